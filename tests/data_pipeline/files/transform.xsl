<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="html" indent="yes"/>
  <xsl:template match="/catalog">
    <html>
      <body>
        <h2>Catalog</h2>
        <xsl:for-each select="cd">
          <p><xsl:value-of select="title"/> by <xsl:value-of select="artist"/></p>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
