/**
 * Minimal XML support for OME-XML: an escaper that yields pure 7-bit ASCII (TIFF ASCII fields are
 * 7-bit, so "µm" becomes "&#181;m"), and a small non-validating parser into an element tree. The
 * parser handles prolog, comments, CDATA, processing instructions, character/entity references and
 * namespace prefixes (dropped: OME files use one namespace). No DTDs.
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

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  let out = "";
  let i = 0;
  while (i < s.length) {
    const amp = s.indexOf("&", i);
    if (amp < 0) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, amp);
    const semi = s.indexOf(";", amp);
    if (semi < 0) throw new Error(`unterminated entity at ${amp}`);
    const ent = s.slice(amp + 1, semi);
    if (ent.startsWith("#x") || ent.startsWith("#X")) out += String.fromCodePoint(parseInt(ent.slice(2), 16));
    else if (ent.startsWith("#")) out += String.fromCodePoint(parseInt(ent.slice(1), 10));
    else if (ent in NAMED_ENTITIES) out += NAMED_ENTITIES[ent];
    else throw new Error(`unknown entity &${ent};`);
    i = semi + 1;
  }
  return out;
}

function localName(qname: string): string {
  const colon = qname.indexOf(":");
  return colon < 0 ? qname : qname.slice(colon + 1);
}

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r";
const isNameEnd = (c: string) => isSpace(c) || c === "/" || c === ">" || c === "=";

/** Parses a document and returns its root element; throws on malformed input. */
export function parseXml(src: string): XmlElement {
  let pos = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;

  const fail = (msg: string): never => {
    throw new Error(`XML parse error at offset ${pos}: ${msg}`);
  };
  const expectClose = (marker: string) => {
    const end = src.indexOf(marker, pos);
    if (end < 0) fail(`missing "${marker}"`);
    return end;
  };
  const readName = () => {
    const start = pos;
    while (pos < src.length && !isNameEnd(src[pos])) pos++;
    if (pos === start) fail("expected a name");
    return src.slice(start, pos);
  };
  const skipSpace = () => {
    while (pos < src.length && isSpace(src[pos])) pos++;
  };
  const addText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
    else if (t.trim() !== "") fail("text outside the root element");
  };

  while (pos < src.length) {
    const lt = src.indexOf("<", pos);
    if (lt < 0) {
      addText(decodeEntities(src.slice(pos)));
      break;
    }
    if (lt > pos) addText(decodeEntities(src.slice(pos, lt)));
    pos = lt;
    if (src.startsWith("<!--", pos)) {
      pos = expectClose("-->") + 3;
    } else if (src.startsWith("<![CDATA[", pos)) {
      const end = expectClose("]]>");
      addText(src.slice(pos + 9, end));
      pos = end + 3;
    } else if (src.startsWith("<?", pos)) {
      pos = expectClose("?>") + 2;
    } else if (src.startsWith("<!", pos)) {
      fail("DTDs are not supported");
    } else if (src.startsWith("</", pos)) {
      pos += 2;
      const name = localName(readName());
      skipSpace();
      if (src[pos] !== ">") fail("expected '>'");
      pos++;
      const open = stack.pop();
      if (!open || open.name !== name) fail(`closing </${name}> does not match <${open?.name ?? "(none)"}>`);
    } else {
      pos++;
      const el: XmlElement = { name: localName(readName()), attrs: {}, children: [], text: "" };
      for (;;) {
        skipSpace();
        if (pos >= src.length) fail("unterminated start tag");
        if (src[pos] === ">" || src.startsWith("/>", pos)) break;
        const attr = readName();
        skipSpace();
        if (src[pos] !== "=") fail(`attribute ${attr} lacks '='`);
        pos++;
        skipSpace();
        const quote = src[pos];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attr} value is not quoted`);
        const end = src.indexOf(quote, pos + 1);
        if (end < 0) fail("unterminated attribute value");
        // Namespace declarations are not data.
        if (attr !== "xmlns" && !attr.startsWith("xmlns:")) el.attrs[localName(attr)] = decodeEntities(src.slice(pos + 1, end));
        pos = end + 1;
      }
      const selfClosing = src[pos] === "/";
      pos += selfClosing ? 2 : 1;
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) fail("more than one root element");
      else root = el;
      if (!selfClosing) stack.push(el);
    }
  }
  if (stack.length > 0) fail(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) fail("no root element");
  return root!;
}

export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

export function firstChild(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
