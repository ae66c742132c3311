import { describe, expect, it } from "vitest";
import { escapeXml, parseXml } from "./xml";

describe("escapeXml", () => {
  it("produces 7-bit ASCII that parses back to the original text", () => {
    const nasty = `a<b>&c"d'e µm 1° 😀 tab\there\nline`;
    const escaped = escapeXml(nasty);
    expect(/^[\x20-\x7e]*$/.test(escaped)).toBe(true);
    const el = parseXml(`<r v="${escaped}">${escaped}</r>`);
    expect(el.attrs.v).toBe(nasty);
    expect(el.text).toBe(nasty);
  });

  it("drops control characters XML 1.0 cannot carry", () => {
    expect(escapeXml("a\u0001b\u0000c")).toBe("abc");
  });
});

describe("parseXml", () => {
  it("reads prolog, comments, CDATA, self-closing tags, single quotes and namespace prefixes", () => {
    const doc = parseXml(
      `<?xml version="1.0"?><!-- c --><ome:OME xmlns:ome="urn:x" a='1'><ome:Image ID="Image:0"/><T><![CDATA[<raw & text>]]> &#x41;&#66;</T></ome:OME>`,
    );
    expect(doc.name).toBe("OME");
    expect(doc.attrs).toEqual({ a: "1" });
    expect(doc.children.map((c) => c.name)).toEqual(["Image", "T"]);
    expect(doc.children[0].attrs.ID).toBe("Image:0");
    expect(doc.children[1].text).toBe("<raw & text> AB");
  });

  it("rejects malformed documents", () => {
    expect(() => parseXml("<a><b></a>")).toThrow("XML line 1, column 7: Expected closing tag 'b' (opened in line 1, col 4) instead of closing tag 'a'.");
    expect(() => parseXml("<a>")).toThrow(/line 1, column 1: Unclosed tag 'a'/);
    expect(() => parseXml("<a x=1/>")).toThrow(/Attribute 'x' is without value/);
    expect(() => parseXml("<a/><b/>")).toThrow("XML has more than one root element (a, b)");
    expect(() => parseXml("<!-- only a comment -->")).toThrow(/no root element|line/);
  });
});
