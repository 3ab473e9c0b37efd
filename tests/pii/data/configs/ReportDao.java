package io.acme.reports;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;

public final class ReportDao {
    private static final String URL = "jdbc:postgresql://pg.acme-corp.io:5432/reports";

    Connection open() throws SQLException {
        Properties props = new Properties();
        props.setProperty("user", "rpt_batch");
        props.setProperty("password", "Jv4#mXq8Lt");
        return DriverManager.getConnection(URL, props);
    }

    Connection openDirect() throws SQLException {
        return DriverManager.getConnection(URL, "rpt_batch", "Gc7!wPz2Qk");
    }

    Connection openFromEnv(String host, String user) throws SQLException {
        String url = "jdbc:mysql://" + host + "/app?user=" + user + "&password=" + System.getenv("DB_PASSWORD");
        return DriverManager.getConnection(url, user, System.getenv("DB_PASSWORD"));
    }

    Connection openLocal() throws SQLException {
        return DriverManager.getConnection("jdbc:h2:mem:test", "sa", "");
    }
}
