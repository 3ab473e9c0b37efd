module.exports = {
  development: {
    client: 'pg',
    connection: 'postgres://dev:dev@localhost:5432/shop_dev',
  },
  staging: {
    client: 'mysql2',
    connection: {
      host: 'mysql.staging.acme-corp.io',
      user: 'shop_stage',
      password: 'Kn8!vQz3Wp',
      database: 'shop',
    },
  },
  production: {
    client: 'mssql',
    connection: 'mssql://shop_prod:Pr5xLq9mTv@sql.acme-corp.io:1433/shop?encrypt=true',
  },
  reporting: {
    client: 'pg',
    connection: `postgresql://reporter@pg.acme-corp.io/reports?sslmode=verify-full&password=${process.env.REPORTS_PASSWORD}`,
  },
  warehouse: {
    client: 'oracledb',
    connection: { connectString: 'wh.acme-corp.io:1521/WH', user: 'wh_loader', password: process.env.WH_PASSWORD },
  },
};
