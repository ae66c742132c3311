import { XMLParser, XMLValidator } from "fast-xml-parser";

/**
 * XML for OME-XML: an escaper that yields pure 7-bit ASCII (TIFF ASCII fields are 7-bit, so "µm"
 * becomes "&#181;m"), and reading a document back into an element tree with fast-xml-parser
 * (validated first; namespace prefixes dropped: OME files use one namespace).
 */

export interface XmlElement {
  /** Local name (any "prefix:" removed). */
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
}

export function escapeXml(value: string): string {
  let out = "";
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === "&") out += "&amp;";
    else if (ch === "<") out += "&lt;";
    else if (ch === ">") out += "&gt;";
    else if (ch === '"') out += "&quot;";
    else if (ch === "'") out += "&apos;";
    else if (cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) {
      // Not representable in XML 1.0 at all; dropping beats writing an unparseable file.
      continue;
    } else if (cp > 0x7e || cp === 0x09 || cp === 0x0a || cp === 0x0d) out += `&#${cp};`;
    else out += ch;
  }
  return out;
}

type OrderedNode = { [name: string]: OrderedNode[] | string | Record<string, string> } & { ":@"?: Record<string, string>; "#text"?: string };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  // numeric character references (&#181;) as escapeXml writes them
  htmlEntities: true,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

function toElement(node: OrderedNode): XmlElement | null {
  const name = Object.keys(node).find((key) => key !== ":@");
  if (name === undefined || name === "#text") return null;
  const content = node[name] as OrderedNode[];
  const children: XmlElement[] = [];
  let text = "";
  for (const child of content) {
    if (typeof child["#text"] === "string") text += child["#text"];
    else {
      const element = toElement(child);
      if (element) children.push(element);
    }
  }
  return { name, attrs: { ...(node[":@"] ?? {}) }, children, text };
}

/** Parses a document into its root element; a malformed one is refused naming where (line, column) and why. */
export function parseXml(src: string): XmlElement {
  const verdict = XMLValidator.validate(src);
  if (verdict !== true) throw new Error(`XML line ${verdict.err.line}, column ${verdict.err.col}: ${verdict.err.msg}`);
  const roots = (parser.parse(src) as OrderedNode[]).map(toElement).filter((element): element is XmlElement => element !== null);
  if (roots.length !== 1) throw new Error(`XML has ${roots.length === 0 ? "no root element" : `more than one root element (${roots.map((r) => r.name).join(", ")})`}`);
  return roots[0]!;
}

export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

export function firstChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
