<?xml version="1.0" encoding="UTF-8"?>
<!--
  newsbot feed stylesheet: a browser that opens an Atom or RSS feed shows a readable page
  instead of raw XML. Feed readers ignore it; the feeds stay valid (the W3C validator accepts
  the xml-stylesheet instruction). Texts are Chinese when the feed's language starts with
  "zh", English otherwise. Summaries are newsbot's escaped plain text, hence
  disable-output-escaping (honoured by Chromium and Safari; Firefox shows the entities).
  Chromium is phasing XSLT out (it shows a removal banner since 2026); feeds/index.html is
  the page to link for people.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:media="http://search.yahoo.com/mrss/"
    exclude-result-prefixes="atom media">
  <xsl:output method="html" encoding="UTF-8" indent="yes"
      doctype-system="about:legacy-compat"/>

  <xsl:variable name="lang" select="string((/atom:feed/@xml:lang | /rss/channel/language)[1])"/>
  <xsl:variable name="zh" select="starts-with($lang, 'zh')"/>
  <xsl:variable name="title" select="string((/atom:feed/atom:title | /rss/channel/title)[1])"/>
  <xsl:variable name="subtitle" select="string((/atom:feed/atom:subtitle | /rss/channel/description)[1])"/>
  <xsl:variable name="home"
      select="string((/atom:feed/atom:link[@rel='alternate']/@href | /rss/channel/link)[1])"/>
  <xsl:variable name="self"
      select="string((/atom:feed/atom:link[@rel='self']/@href | /rss/channel/atom:link[@rel='self']/@href)[1])"/>

  <xsl:template match="/">
    <html lang="{$lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width,initial-scale=1"/>
        <title><xsl:value-of select="$title"/></title>
        <style>
          body{font:16px/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;
            max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222;background:#fff}
          .note{background:#fff4e5;border:1px solid #f5c27a;border-radius:.4rem;padding:.8rem 1rem}
          .note code{word-break:break-all}
          h1{font-size:1.6rem;margin:1.2rem 0 .2rem}.sub{color:#555;margin:0 0 1.5rem}
          article{border-top:1px solid #eee;padding:.8rem 0}
          article h2{font-size:1.1rem;margin:0}time{color:#777;font-size:.85rem}
          article p{margin:.3rem 0 0;color:#333}
          @media (prefers-color-scheme:dark){body{background:#161616;color:#ddd}
            .note{background:#2a2113;border-color:#6b4f1f}.sub,article p{color:#bbb}article{border-color:#2a2a2a}}
        </style>
      </head>
      <body>
        <p class="note">
          <xsl:choose>
            <xsl:when test="$zh">这是一个订阅源（RSS/Atom）。把本页地址复制到阅读器即可订阅：</xsl:when>
            <xsl:otherwise>This is a web feed (RSS/Atom). Subscribe by copying this page's address into your feed reader:</xsl:otherwise>
          </xsl:choose>
          <br/><code><xsl:value-of select="$self"/></code>
        </p>
        <h1><a href="{$home}"><xsl:value-of select="$title"/></a></h1>
        <p class="sub"><xsl:value-of select="$subtitle"/></p>
        <xsl:apply-templates select="/atom:feed/atom:entry | /rss/channel/item"/>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="atom:entry">
    <article>
      <h2><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of select="atom:title"/></a></h2>
      <time><xsl:value-of select="substring(atom:published, 1, 10)"/></time>
      <p><xsl:value-of select="atom:summary" disable-output-escaping="yes"/></p>
    </article>
  </xsl:template>

  <xsl:template match="item">
    <article>
      <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
      <time><xsl:value-of select="pubDate"/></time>
      <p><xsl:value-of select="description" disable-output-escaping="yes"/></p>
    </article>
  </xsl:template>
</xsl:stylesheet>
