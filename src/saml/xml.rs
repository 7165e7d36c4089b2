//! The one way this crate turns bytes into an XML tree, for every document it reads
//! (responses, decrypted assertions, IdP metadata): plain UTF-8 only, cheap limits on what
//! makes libxml2 superlinear, any `<!DOCTYPE` refused by a byte scan before the parser sees
//! the input *and* any DTD in the parsed tree refused after, so no entity can ever be
//! declared (XXE, billion laughs, ruby-saml CVE-2025-25291/25292) whatever the bytes
//! pretend to be. libxml2 runs with recovery, network, DTD loading and entity substitution
//! off. Plus small, namespace-aware helpers so no code matches elements by prefix.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node, NodeType};

use super::error::SamlError;

/// Largest decoded (or decrypted) XML accepted.
pub const MAX_XML_BYTES: usize = 384 * 1024;

/// The base64 of SAML messages and XML-DSig/XML-Enc values: padding optional, trailing
/// bits tolerated, as IdPs send them.
pub(super) fn b64_engine() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// SAML 1.0/1.1 assertion namespace (the tokens of WS-Federation and AD FS).
pub const NS_ASSERTION_1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
/// SAML 2.0 protocol namespace.
pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// SAML 2.0 metadata namespace.
pub const NS_METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// XML-DSig namespace.
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// XML-Enc namespace.
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
/// XML-Enc 1.1 namespace.
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";

/// Most attributes on one element, namespace declarations included. libxml2 checks their
/// uniqueness pairwise: 17,576 attributes cost ~0.3 s of CPU (issue #11). The real
/// responses and metadata of `shared/testvectors` (Okta, OneLogin, AD FS, Shibboleth) carry
/// at most 10.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most elements in one document. A response has tens to a few hundred (one AttributeValue
/// per group: AD FS sends every group of a user in thousands); this leaves room for those
/// and for a small federation aggregate, and bounds the linear walks after parsing.
pub const MAX_ELEMENTS: usize = 16_384;
/// Deepest element nesting. Real documents nest at most 11 levels; libxml2's own limit
/// (256) is far above what any walk of ours or xmlsec's canonicalisation needs.
pub const MAX_DEPTH: usize = 64;

/// The input as plain UTF-8, or a refusal: libxml2 honours BOMs, the XML declaration's
/// `encoding` and its own guess from the first bytes, and a second decoding of the same
/// bytes is how a DOCTYPE hid from [`reject_doctype`] in UTF-16LE without a BOM (issue #11).
///
/// A UTF-8 BOM is stripped rather than refused: it names the encoding we parse with anyway,
/// and Windows tools write it (metadata saved from AD FS or by an administrator's editor).
/// Every UTF-16 or UTF-32 text, with or without a BOM, has NUL bytes or bytes that UTF-8
/// never has (`FE`, `FF`), so the NUL and UTF-8 checks refuse all of them; NUL is not an
/// XML character either.
fn utf8_only(bytes: &[u8]) -> Result<&[u8], SamlError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(SamlError::Encoding("NUL byte".into()));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(SamlError::Encoding("not UTF-8".into()));
    }
    match declared_encoding(bytes)? {
        Some(name) if !name.eq_ignore_ascii_case(b"UTF-8") => Err(SamlError::Encoding(format!(
            "declared encoding {:?}",
            String::from_utf8_lossy(name)
        ))),
        _ => Ok(bytes),
    }
}

/// The `encoding` of the XML declaration, when the document starts with one that names it.
/// A declaration whose encoding cannot be read is refused: libxml2 might read it differently.
fn declared_encoding(bytes: &[u8]) -> Result<Option<&[u8]>, SamlError> {
    let Some(decl) = bytes
        .strip_prefix(b"<?xml")
        .filter(|d| d.first().is_some_and(u8::is_ascii_whitespace))
    else {
        return Ok(None);
    };
    let decl = &decl[..find(decl, b"?>").unwrap_or(decl.len())];
    let Some(at) = find(decl, b"encoding") else {
        return Ok(None);
    };
    let unreadable = || SamlError::Encoding("unreadable encoding declaration".into());
    let value = decl[at + b"encoding".len()..].trim_ascii_start();
    let value = value
        .strip_prefix(b"=")
        .ok_or_else(unreadable)?
        .trim_ascii_start();
    let (&quote, value) = value
        .split_first()
        .filter(|(q, _)| matches!(q, b'"' | b'\''))
        .ok_or_else(unreadable)?;
    let end = value
        .iter()
        .position(|&b| b == quote)
        .ok_or_else(unreadable)?;
    Ok(Some(&value[..end]))
}

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Refuses any document type declaration, wherever it is and however it is cased.
///
/// A cheap first gate on the bytes; the parsed tree is checked again by `refuse_dtd`, so
/// this no longer has to be right about every encoding. `<!ENTITY` cannot appear without a
/// DOCTYPE, but is refused too.
pub fn reject_doctype(bytes: &[u8]) -> Result<(), SamlError> {
    // Only markup starting with `<!` can open a DTD: look at those few places instead of
    // comparing both needles at every byte (this runs on every ACS POST).
    const NEEDLES: [&[u8]; 2] = [b"doctype", b"entity"];
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&b| b == b'<') {
        let tail = &rest[at + 1..];
        if let Some(after) = tail.strip_prefix(b"!")
            && NEEDLES
                .iter()
                .any(|n| after.len() >= n.len() && after[..n.len()].eq_ignore_ascii_case(n))
        {
            return Err(SamlError::DtdForbidden);
        }
        rest = tail;
    }
    Ok(())
}

/// Refuses documents above [`MAX_ATTRIBUTES`], [`MAX_ELEMENTS`] or [`MAX_DEPTH`], in one
/// linear pass over the bytes, before libxml2 spends quadratic time on them.
///
/// Comments, CDATA sections, processing instructions and quoted attribute values (which may
/// hold `>`) are skipped whole; every quoted value in a start tag is one attribute. On input
/// that is not well-formed the counts may be off, and the parser refuses it anyway.
pub fn check_complexity(bytes: &[u8]) -> Result<(), SamlError> {
    let too_complex = |what: &str| SamlError::TooComplex(what.into());
    let past = |from: usize, end: &[u8]| {
        find(&bytes[from.min(bytes.len())..], end).map_or(bytes.len(), |at| from + at + end.len())
    };
    let (mut elements, mut depth, mut i) = (0usize, 0usize, 0usize);
    while let Some(at) = bytes[i..].iter().position(|&b| b == b'<').map(|at| i + at) {
        let markup = &bytes[at..];
        i = if markup.starts_with(b"<!--") {
            past(at + 4, b"-->")
        } else if markup.starts_with(b"<![CDATA[") {
            past(at + 9, b"]]>")
        } else if markup.starts_with(b"<?") {
            past(at + 2, b"?>")
        } else if markup.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            at + 2
        } else if markup.starts_with(b"<!") {
            at + 2
        } else {
            elements += 1;
            depth += 1;
            if elements > MAX_ELEMENTS {
                return Err(too_complex("too many elements"));
            }
            if depth > MAX_DEPTH {
                return Err(too_complex("elements nested too deep"));
            }
            let (mut attributes, mut quote, mut end) = (0usize, None, bytes.len());
            for (j, &b) in bytes.iter().enumerate().skip(at + 1) {
                match quote {
                    Some(q) if b == q => quote = None,
                    Some(_) => {}
                    None if b == b'"' || b == b'\'' => {
                        attributes += 1;
                        if attributes > MAX_ATTRIBUTES {
                            return Err(too_complex("too many attributes on one element"));
                        }
                        quote = Some(b);
                    }
                    None if b == b'>' => {
                        end = j;
                        break;
                    }
                    None => {}
                }
            }
            if end < bytes.len() && bytes[end - 1] == b'/' {
                depth -= 1;
            }
            end + 1
        };
        if i >= bytes.len() {
            break;
        }
    }
    Ok(())
}

/// Parses `bytes` strictly: plain UTF-8 only, DOCTYPE refused before and after parsing,
/// complexity bounded, no error recovery (a recovering parser would build a tree from
/// broken input that another parser reads differently), no network access.
pub fn parse(bytes: &[u8]) -> Result<Document, SamlError> {
    let bytes = utf8_only(bytes)?;
    reject_doctype(bytes)?;
    check_complexity(bytes)?;
    let doc = parse_tree(bytes)?;
    refuse_dtd(&doc)?;
    if doc.get_root_element().is_none() {
        return Err(SamlError::Malformed("no root element".into()));
    }
    Ok(doc)
}

/// libxml2 itself, told to ignore what the document says about its encoding (checked by
/// [`utf8_only`] already: this is the second lock on the same door). What is left to
/// libxml2 is its guess from the first bytes, and on plain UTF-8 without a BOM or NUL that
/// guess can only be UTF-8. It is not also handed `encoding: "UTF-8"`: libxml2 2.9.14 then
/// converts through its UTF-8 handler, which refused valid non-ASCII text now and then when
/// several threads parse at once (5 of 80,000 parses in a four-thread trial).
/// DTD loading and entity substitution are off because their options are never set.
fn parse_tree(bytes: &[u8]) -> Result<Document, SamlError> {
    let options = ParserOptions {
        recover: false,
        no_def_dtd: true,
        no_error: true,
        no_warning: true,
        pedantic: false,
        no_blanks: false,
        no_net: true,
        no_implied: false,
        compact: false,
        ignore_enc: true,
        encoding: None,
    };
    Parser::default()
        .parse_string_with_options(bytes, options)
        .map_err(|_| SamlError::Malformed("not well-formed XML".into()))
}

/// Refuses a parsed document with a DTD, internal or external subset: the tree libxml2
/// built is the truth, whatever encoding trick got its bytes past [`reject_doctype`].
fn refuse_dtd(doc: &Document) -> Result<(), SamlError> {
    // SAFETY: `doc_ptr` is the live, non-null xmlDoc that `doc` owns and keeps alive for
    // this call; two pointer fields are read and never dereferenced.
    let (internal, external) = unsafe {
        let d = &*doc.doc_ptr();
        (d.intSubset, d.extSubset)
    };
    if internal.is_null() && external.is_null() {
        Ok(())
    } else {
        Err(SamlError::DtdForbidden)
    }
}

/// The root element of a parsed document.
pub fn root(doc: &Document) -> Result<Node, SamlError> {
    doc.get_root_element()
        .ok_or_else(|| SamlError::Malformed("no root element".into()))
}

/// Whether `node` is the element `{ns}local`.
pub fn is(node: &Node, ns: &str, local: &str) -> bool {
    node.is_element_node()
        && node.get_name() == local
        && node.get_namespace().is_some_and(|n| n.get_href() == ns)
}

/// Element children named `{ns}local`, in document order.
pub fn children(node: &Node, ns: &str, local: &str) -> Vec<Node> {
    node.get_child_elements()
        .into_iter()
        .filter(|c| is(c, ns, local))
        .collect()
}

/// The first element child named `{ns}local`.
pub fn child(node: &Node, ns: &str, local: &str) -> Option<Node> {
    node.get_child_elements()
        .into_iter()
        .find(|c| is(c, ns, local))
}

/// Every descendant element (not `node` itself), depth first, document order.
pub fn descendants(node: &Node) -> Vec<Node> {
    let mut out = Vec::new();
    let mut stack: Vec<Node> = node.get_child_elements().into_iter().rev().collect();
    while let Some(n) = stack.pop() {
        stack.extend(n.get_child_elements().into_iter().rev());
        out.push(n);
    }
    out
}

/// The whole text of an element: every text and CDATA child joined, comments and
/// processing instructions dropped. Reading only the first text node is how
/// `alice@contoso.com<!---->.evil.example` becomes `alice@contoso.com`
/// (CVE-2017-11427 family); joining gives back exactly what was signed.
/// Returns `None` when the element has element children: a NameID or a simple value with
/// markup inside is not something we guess at.
pub fn whole_text(node: &Node) -> Option<String> {
    let mut out = String::new();
    for c in node.get_child_nodes() {
        match c.get_type() {
            Some(NodeType::TextNode) | Some(NodeType::CDataSectionNode) => {
                out.push_str(&c.get_content())
            }
            Some(NodeType::CommentNode) | Some(NodeType::PiNode) => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Like [`whole_text`], trimmed of surrounding XML whitespace; `None` when markup is inside.
pub fn trimmed_text(node: &Node) -> Option<String> {
    whole_text(node).map(|t| t.trim_matches([' ', '\t', '\r', '\n']).to_string())
}

/// An unqualified attribute's value (SAML attributes such as `ID` or `Destination`).
pub fn attr(node: &Node, name: &str) -> Option<String> {
    node.get_attribute(name)
}

/// Escapes text for XML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctype_is_refused_in_any_case_and_position() {
        for doc in [
            "<!DOCTYPE x><x/>",
            "<?xml version=\"1.0\"?>\n<!doctype x [<!ENTITY a \"b\">]><x/>",
            "<x><!DocType y></x>",
        ] {
            assert_eq!(parse(doc.as_bytes()).err(), Some(SamlError::DtdForbidden));
        }
    }

    #[test]
    fn a_dtd_in_the_parsed_tree_is_refused_without_the_byte_scan() {
        for doc in [
            "<!DOCTYPE x><x/>",
            "<!DOCTYPE x SYSTEM \"urn:x\"><x/>",
            "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>",
        ] {
            let tree = parse_tree(doc.as_bytes()).expect("well-formed");
            assert_eq!(refuse_dtd(&tree), Err(SamlError::DtdForbidden), "{doc}");
        }
        assert_eq!(refuse_dtd(&parse_tree(b"<x/>").expect("xml")), Ok(()));
    }

    /// The issue #11 bypass: UTF-16LE without a BOM is ASCII plus NULs, so it passed as
    /// UTF-8 and libxml2 then read it as UTF-16 with its internal subset.
    #[test]
    fn only_plain_utf8_is_parsed() {
        let doc =
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?><!DOCTYPE x [<!ENTITY e \"y\">]><x>&e;</x>";
        let utf16le: Vec<u8> = doc.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = doc.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let with_bom = [&b"\xFF\xFE"[..], &utf16le].concat();
        for bytes in [&utf16le, &utf16be, &with_bom] {
            assert!(matches!(parse(bytes), Err(SamlError::Encoding(_))));
        }
        for decl in [
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?><x/>",
            "<?xml version=\"1.0\" encoding='ISO-8859-1'?><x/>",
            "<?xml version=\"1.0\" encoding=\"US-ASCII\"?><x/>",
            "<?xml version=\"1.0\" encoding=UTF-8?><x/>",
            "<x>\u{0}</x>",
        ] {
            assert!(
                matches!(parse(decl.as_bytes()), Err(SamlError::Encoding(_))),
                "{decl}"
            );
        }
        assert!(
            parse(b"<x>\xE9</x>").is_err(),
            "Latin-1 bytes are not UTF-8"
        );
        for ok in [
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><x/>",
            "<?xml version='1.0' encoding = 'UTF-8' ?><x>\u{e9}</x>",
            "<?xml version=\"1.0\"?><x/>",
            "\u{feff}<x/>",
        ] {
            assert!(parse(ok.as_bytes()).is_ok(), "{ok}");
        }
    }

    /// Forcing libxml2 2.9.14 to UTF-8 refused valid text now and then under concurrency.
    #[test]
    fn non_ascii_text_parses_from_many_threads_at_once() {
        std::thread::scope(|s| {
            for t in 0..4 {
                s.spawn(move || {
                    for i in 0..20_000 {
                        let doc =
                            format!("<x a=\"{t}{i}\">\u{e9}\u{fffd}@{}</x>", "b".repeat(i % 300));
                        assert!(parse(doc.as_bytes()).is_ok(), "{doc}");
                    }
                });
            }
        });
    }

    #[test]
    fn complexity_is_bounded_before_parsing() {
        let attrs = |n: usize| {
            let a: String = (0..n).map(|i| format!(" a{i}=\"v>'\"")).collect();
            format!("<x{a}/>")
        };
        assert!(parse(attrs(MAX_ATTRIBUTES).as_bytes()).is_ok());
        assert!(matches!(
            parse(attrs(MAX_ATTRIBUTES + 1).as_bytes()),
            Err(SamlError::TooComplex(_))
        ));
        let nested = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(parse(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert!(matches!(
            parse(nested(MAX_DEPTH + 1).as_bytes()),
            Err(SamlError::TooComplex(_))
        ));
        // Siblings, self-closed or not, and markup that is not an element do not nest.
        let flat = |n: usize| {
            format!(
                "<r>{}</r>",
                "<a/><b></b><!-- <c> --><![CDATA[<d>]]><?p <e>?>".repeat(n)
            )
        };
        assert!(parse(flat((MAX_ELEMENTS - 1) / 2).as_bytes()).is_ok());
        assert!(matches!(
            parse(flat(MAX_ELEMENTS / 2).as_bytes()),
            Err(SamlError::TooComplex(_))
        ));
    }

    #[test]
    fn broken_xml_is_not_recovered() {
        assert!(matches!(parse(b"<a><b></a>"), Err(SamlError::Malformed(_))));
        assert!(matches!(parse(b""), Err(SamlError::Malformed(_))));
    }

    #[test]
    fn whole_text_joins_around_comments() {
        let doc = parse(b"<a>alice@contoso.com<!---->.evil.example</a>").expect("parse");
        let r = root(&doc).expect("root");
        assert_eq!(
            whole_text(&r).as_deref(),
            Some("alice@contoso.com.evil.example")
        );
        let doc = parse(b"<a>x<b/>y</a>").expect("parse");
        assert_eq!(whole_text(&root(&doc).expect("root")), None);
    }

    #[test]
    fn namespace_aware_matching() {
        let doc = parse(
            format!("<p:a xmlns:p=\"{NS_ASSERTION}\"><p:b/><q:b xmlns:q=\"urn:x\"/></p:a>")
                .as_bytes(),
        )
        .expect("parse");
        let r = root(&doc).expect("root");
        assert!(is(&r, NS_ASSERTION, "a"));
        assert_eq!(children(&r, NS_ASSERTION, "b").len(), 1);
        assert_eq!(descendants(&r).len(), 2);
    }
}
