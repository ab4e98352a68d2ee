//! A small, tolerant XML scan: the text of elements found by their LOCAL name.
//!
//! WeMo firmware varies in element order, whitespace and namespace prefixes
//! (`<BinaryState>`, `<u:BinaryState>`, `<s:Body>` ...), so the plugin never
//! needs a tree: it asks for "the text of the first element called X", whatever
//! its prefix or position. Comments, processing instructions, CDATA sections and
//! the predefined and numeric character references are handled; anything
//! malformed is skipped rather than reported (a missing element is reported by
//! the caller, which knows what it was looking for).

/// The text content of the first element whose local name (the part after any
/// `prefix:`) is `name`, entity-decoded and trimmed. `Some("")` for an empty or
/// self-closing element; `None` when there is no such (complete) element.
pub fn text(doc: &str, name: &str) -> Option<String> {
    let mut pos = 0;
    while let Some(rel) = doc[pos..].find('<') {
        let start = pos + rel;
        let rest = &doc[start..];
        // Markup that is not an element: skip it whole.
        if let Some(after) = skip_markup(rest) {
            pos = start + after;
            continue;
        }
        if rest.starts_with("</") {
            pos = start + 2;
            continue;
        }
        let Some(tag_len) = tag_end(rest) else {
            return None; // unterminated tag: nothing after it can be trusted
        };
        let tag = &rest[1..tag_len - 1]; // between '<' and '>'
        let qname_len = tag
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .unwrap_or(tag.len());
        let qname = &tag[..qname_len];
        pos = start + tag_len;
        if qname.is_empty() || local(qname) != name {
            continue;
        }
        if tag.ends_with('/') {
            return Some(String::new());
        }
        let content_start = start + tag_len;
        if let Some(len) = closing_tag(&doc[content_start..], qname) {
            return Some(text_content(&doc[content_start..content_start + len]).trim().to_owned());
        }
        // No closing tag for this one: keep looking (a later element may be complete).
    }
    None
}

/// The part of a qualified name after the prefix: `u:BinaryState` → `BinaryState`.
fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

/// If `s` starts with a comment, CDATA section, processing instruction or
/// declaration, the length of it (to skip); `None` otherwise.
fn skip_markup(s: &str) -> Option<usize> {
    let (open, close) = if s.starts_with("<!--") {
        ("<!--", "-->")
    } else if s.starts_with("<![CDATA[") {
        ("<![CDATA[", "]]>")
    } else if s.starts_with("<?") {
        ("<?", "?>")
    } else if s.starts_with("<!") {
        ("<!", ">")
    } else {
        return None;
    };
    Some(
        s[open.len()..]
            .find(close)
            .map_or(s.len(), |i| open.len() + i + close.len()),
    )
}

/// Length of the tag at the start of `s` (which starts with `<`) up to and
/// including its `>`, skipping `>` inside quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            (None, '<') => return None, // a new tag began: this one was never closed
            _ => {}
        }
    }
    None
}

/// Offset in `s` of the closing tag `</qname>` (optional whitespace before `>`).
fn closing_tag(s: &str, qname: &str) -> Option<usize> {
    let mut pos = 0;
    while let Some(rel) = s[pos..].find("</") {
        let at = pos + rel;
        let rest = &s[at + 2..];
        if let Some(after) = rest.strip_prefix(qname) {
            if after.trim_start().starts_with('>') {
                return Some(at);
            }
        }
        pos = at + 2;
    }
    None
}

/// The text of a piece of content: character data entity-decoded, CDATA kept
/// verbatim, comments, processing instructions and tags of nested elements dropped.
fn text_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(rel) = s[pos..].find('<') {
        let at = pos + rel;
        out.push_str(&decode(&s[pos..at]));
        let rest = &s[at..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            pos = at + "<![CDATA[".len() + (end + 3).min(cdata.len());
        } else if let Some(len) = skip_markup(rest) {
            pos = at + len;
        } else {
            pos = at + tag_end(rest).unwrap_or(rest.len());
        }
    }
    out.push_str(&decode(&s[pos..]));
    out
}

/// Replaces `&lt; &gt; &amp; &quot; &apos;` and `&#N;` / `&#xN;`; an unknown or
/// broken reference is kept as written.
pub fn decode(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest[1..].find(';').filter(|&i| i <= 10).and_then(|i| {
            let entity = &rest[1..1 + i];
            let c = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = entity.strip_prefix('#') {
                        dec.parse().ok()
                    } else {
                        None
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, i + 2))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_elements_by_local_name_whatever_the_prefix() {
        let doc = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body>
            <u:GetBinaryStateResponse xmlns:u="urn:Belkin:service:basicevent:1">
              <BinaryState>1</BinaryState></u:GetBinaryStateResponse></s:Body></s:Envelope>"#;
        assert_eq!(text(doc, "BinaryState").as_deref(), Some("1"));
        assert!(text(doc, "GetBinaryStateResponse").is_some());
        assert_eq!(text(doc, "Missing"), None);
        let prefixed = "<a:Root><m:InsightParams>8|1</m:InsightParams></a:Root>";
        assert_eq!(text(prefixed, "InsightParams").as_deref(), Some("8|1"));
    }

    #[test]
    fn trims_decodes_and_handles_cdata_and_comments() {
        let doc = "<root><!-- <friendlyName>no</friendlyName> -->\n  <friendlyName>\n   Kitchen &amp; Bath &#x263A;&#65; \n</friendlyName></root>";
        assert_eq!(text(doc, "friendlyName").as_deref(), Some("Kitchen & Bath ☺A"));
        let cdata = "<x><name><![CDATA[a <b> & c]]></name></x>";
        assert_eq!(text(cdata, "name").as_deref(), Some("a <b> & c"));
        assert_eq!(decode("a &bogus; &amp b &#xZZ;"), "a &bogus; &amp b &#xZZ;");
    }

    #[test]
    fn attributes_empty_and_self_closing_elements() {
        let doc = r#"<r><v a="1>2" b='x'>ok</v><e/><f></f><g attr="1" /></r>"#;
        assert_eq!(text(doc, "v").as_deref(), Some("ok"));
        assert_eq!(text(doc, "e").as_deref(), Some(""));
        assert_eq!(text(doc, "f").as_deref(), Some(""));
        assert_eq!(text(doc, "g").as_deref(), Some(""));
    }

    #[test]
    fn does_not_confuse_names_sharing_a_prefix() {
        let doc = "<r><BinaryStateX>9</BinaryStateX><BinaryState>0</BinaryState></r>";
        assert_eq!(text(doc, "BinaryState").as_deref(), Some("0"));
        let doc = "<r><a>1</ab></a></r>";
        assert_eq!(text(doc, "a").as_deref(), Some("1"));
    }

    #[test]
    fn malformed_input_never_panics() {
        for doc in [
            "",
            "<",
            "<<<>>>",
            "<a",
            "<a>",
            "<a>text",
            "</a>",
            "<!--",
            "<![CDATA[",
            "<?xml",
            "<a>&#xFFFFFFFF;</a>",
            "<a>&#99999999999;</a>",
            "<é>ü</é>",
            "<a b=\"unterminated>x</a>",
            "<:>x</:>",
        ] {
            let _ = text(doc, "a");
            let _ = text(doc, "é");
            let _ = text(doc, "");
        }
        // Every truncation of a real answer (as a short read would give).
        let doc = "<?xml version=\"1.0\"?><s:Envelope><s:Body><!-- c --><u:R a='>'><BinaryState>8|1\
                   </BinaryState><x><![CDATA[é<]]></x>&amp;&#233;</u:R></s:Body></s:Envelope>";
        for (i, _) in doc.char_indices() {
            for name in ["BinaryState", "x", "R", "Body"] {
                let _ = text(&doc[..i], name);
                let _ = text(&doc[i..], name);
            }
        }
        assert_eq!(text("<a>&#xFFFFFFFF;</a>", "a").as_deref(), Some("&#xFFFFFFFF;"));
        assert_eq!(text("<é>ü</é>", "é").as_deref(), Some("ü"));
        // An element without its closing tag is not found, but the elements inside it are.
        assert_eq!(text("<r><x>unclosed<z>2</z></r>", "x"), None);
        assert_eq!(text("<r><x>unclosed<z>2</z></r>", "z").as_deref(), Some("2"));
    }
}
