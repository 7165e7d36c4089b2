//! The one way this crate turns bytes into an XML tree: libxml2 with recovery off, network
//! off, and any `<!DOCTYPE` refused by a byte scan before the parser sees the input, so no
//! entity can ever be declared (XXE, billion laughs, ruby-saml CVE-2025-25291/25292).
//! Plus small, namespace-aware helpers so no code matches elements by prefix.

use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node, NodeType};

use super::error::SamlError;

/// SAML 2.0 assertion namespace.
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
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

/// Refuses any document type declaration, wherever it is and however it is cased.
///
/// A byte scan rather than a parser option because libxml2 processes the internal subset
/// (and so declares entities) while parsing; refusing before parsing leaves nothing to
/// configure wrongly. `<!ENTITY` cannot appear without a DOCTYPE, but is refused too.
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

/// Parses `bytes` strictly: DOCTYPE refused first, no error recovery (a recovering parser
/// would build a tree from broken input that another parser reads differently), no
/// network access.
pub fn parse(bytes: &[u8]) -> Result<Document, SamlError> {
    reject_doctype(bytes)?;
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
        ignore_enc: false,
        encoding: None,
    };
    let doc = Parser::default()
        .parse_string_with_options(bytes, options)
        .map_err(|_| SamlError::Malformed("not well-formed XML".into()))?;
    if doc.get_root_element().is_none() {
        return Err(SamlError::Malformed("no root element".into()));
    }
    Ok(doc)
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
