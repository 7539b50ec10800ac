//! The JSON header of a safetensors file: a parser for exactly the JSON the format uses and
//! the writer of what Hugging Face's writer (`safetensors.torch.save_file`) produces.
//!
//! The header is one JSON object. Each key names a tensor and maps to
//! `{"dtype": "F32", "shape": [5, 2], "data_offsets": [begin, end]}`; the optional key
//! `__metadata__` maps to an object of strings (`{"format": "pt"}`). The grammar accepted:
//!
//! ```text
//! header   = ws '{' ws [ member ( ws ',' ws member )* ] ws '}' ws      (ws: space, tab, CR, LF)
//! member   = string ws ':' ws ( tensor | metadata )
//! tensor   = '{' three fields, each once, any order: "dtype": string,
//!                "shape": [ integer, ... ], "data_offsets": [ integer, integer ] '}'
//! metadata = '{' [ string ':' string ( ',' string ':' string )* ] '}'
//! string   = '"' ( any char >= U+0020 but '"' and '\' | escape )* '"'
//! escape   = \" \\ \/ \b \f \n \r \t | \uXXXX (a UTF-16 unit; surrogates come in pairs)
//! integer  = '0' | [1-9][0-9]*   (no sign, fraction or exponent; it must fit in usize)
//! ```
//!
//! Anything else — other value types, unknown or repeated fields, duplicate keys, lone
//! surrogates, raw control characters, trailing commas or text after the object — is an
//! error that says what was expected at which byte. The parser has a fixed nesting depth
//! (no recursion) and allocates only in proportion to the header's length.

use std::collections::HashSet;
use std::fmt::Write as _;

/// The key of the metadata object.
pub(super) const METADATA_KEY: &str = "__metadata__";

/// One tensor as the header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    /// The tensor's name (the key).
    pub name: String,
    /// The dtype as written (`F32`, `BF16`, ...); checked by the caller.
    pub dtype: String,
    /// The dimensions.
    pub shape: Vec<usize>,
    /// `[begin, end)` in bytes, relative to the start of the data section.
    pub offsets: (usize, usize),
}

/// A parsed header: the tensors in the order the header lists them, and the metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Header {
    /// The tensors, in header order.
    pub tensors: Vec<Entry>,
    /// The `__metadata__` pairs (empty when absent).
    pub metadata: Vec<(String, String)>,
}

/// Why a header is not the JSON the format allows; `at` is a byte offset in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JsonError {
    /// What was wrong, e.g. `expected ':' after the key "w", found '}'`.
    pub msg: String,
    /// The byte of the header where it went wrong.
    pub at: usize,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {} of the header", self.msg, self.at)
    }
}

type Parsed<T> = std::result::Result<T, JsonError>;

/// Parses a header.
pub(super) fn parse(text: &str) -> Parsed<Header> {
    let mut p = Parser { text, pos: 0 };
    let mut header = Header::default();
    let mut keys = HashSet::new();
    let mut seen_metadata = false;
    p.ws();
    p.expect(b'{', "'{' (a safetensors header is a JSON object)")?;
    p.ws();
    if !p.eat(b'}') {
        loop {
            let at = p.pos;
            let key = p.string("a tensor name (a JSON string)")?;
            p.ws();
            p.expect(b':', "':' after the key")?;
            p.ws();
            if key == METADATA_KEY {
                if seen_metadata {
                    return Err(JsonError { msg: format!("duplicate key \"{METADATA_KEY}\""), at });
                }
                seen_metadata = true;
                header.metadata = p.metadata()?;
            } else {
                if keys.contains(key.as_str()) {
                    return Err(JsonError { msg: format!("duplicate key \"{}\"", escaped(&key)), at });
                }
                let entry = p.tensor(key)?;
                keys.insert(entry.name.clone());
                header.tensors.push(entry);
            }
            p.ws();
            if p.eat(b',') {
                p.ws();
            } else {
                p.expect(b'}', "',' or '}' after a member of the header object")?;
                break;
            }
        }
    }
    p.ws();
    if p.pos < text.len() {
        return Err(p.error("the end of the header after its closing '}' (only spaces may pad it)"));
    }
    Ok(header)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, byte: u8, what: &str) -> Parsed<()> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// "expected {what}, found {the next character}" at the current position.
    fn error(&self, what: &str) -> JsonError {
        let found = match self.text.get(self.pos..).map(|rest| rest.chars().next()) {
            Some(None) => "the end of the header".to_string(),
            Some(Some(c)) => format!("{c:?}"),
            None => "the middle of a multi-byte character".to_string(),
        };
        JsonError { msg: format!("expected {what}, found {found}"), at: self.pos }
    }

    /// A JSON string, unescaped.
    fn string(&mut self, what: &str) -> Parsed<String> {
        self.expect(b'"', what)?;
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        let mut run = self.pos; // start of the bytes copied verbatim
        loop {
            let Some(&b) = bytes.get(self.pos) else {
                return Err(JsonError { msg: "unterminated string".into(), at: self.pos });
            };
            match b {
                b'"' => {
                    out.push_str(&self.text[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[run..self.pos]);
                    self.escape(&mut out)?;
                    run = self.pos;
                }
                0x00..=0x1f => {
                    return Err(JsonError {
                        msg: format!("control character U+{b:04X} in a string (JSON requires it escaped)"),
                        at: self.pos,
                    });
                }
                // Multi-byte UTF-8 sequences never contain '"', '\' or control bytes, so
                // `run..pos` always splits `text` on character boundaries.
                _ => self.pos += 1,
            }
        }
    }

    /// One escape sequence (at its backslash), appended to `out`.
    fn escape(&mut self, out: &mut String) -> Parsed<()> {
        let at = self.pos;
        self.pos += 1; // the backslash
        let Some(c) = self.peek() else {
            return Err(JsonError { msg: "unterminated escape sequence".into(), at });
        };
        self.pos += 1;
        let simple = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4(at)?;
                let c = match unit {
                    0xD800..=0xDBFF => {
                        let low_at = self.pos;
                        if !(self.eat(b'\\') && self.eat(b'u')) {
                            return Err(JsonError {
                                msg: format!("lone leading surrogate \\u{unit:04x} (it must be followed by a \\uDC00-\\uDFFF escape)"),
                                at,
                            });
                        }
                        let low = self.hex4(low_at)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(JsonError {
                                msg: format!("leading surrogate \\u{unit:04x} followed by \\u{low:04x}, which is not a trailing surrogate"),
                                at: low_at,
                            });
                        }
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => {
                        return Err(JsonError { msg: format!("lone trailing surrogate \\u{unit:04x}"), at })
                    }
                    _ => u32::from(unit),
                };
                // Every value built above is a Unicode scalar value; `from_u32` checks it.
                char::from_u32(c)
                    .ok_or_else(|| JsonError { msg: format!("invalid code point U+{c:04X}"), at })?
            }
            _ => {
                self.pos = at + 1;
                return Err(
                    self.error("an escape (one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) after '\\'")
                );
            }
        };
        out.push(simple);
        Ok(())
    }

    /// The four hex digits of a `\u` escape that started at `at`.
    fn hex4(&mut self, at: usize) -> Parsed<u16> {
        let digits = self.text.as_bytes().get(self.pos..self.pos + 4);
        let value = digits.and_then(|d| {
            d.iter().try_fold(0u16, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)? as u16))
        });
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(JsonError { msg: "a \\u escape needs four hex digits".into(), at }),
        }
    }

    /// A non-negative integer that fits in `usize`.
    fn integer(&mut self, what: &str) -> Parsed<usize> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        match self.peek() {
            Some(b'-') => return Err(JsonError { msg: format!("{what} must not be negative"), at: start }),
            Some(b'0'..=b'9') => {}
            _ => return Err(self.error(&format!("{what} (a non-negative integer)"))),
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &bytes[start..self.pos];
        if digits.len() > 1 && digits[0] == b'0' {
            return Err(JsonError { msg: format!("{what} has a leading zero (not valid JSON)"), at: start });
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(JsonError {
                msg: format!("{what} must be an integer (no fraction or exponent)"),
                at: start,
            });
        }
        digits
            .iter()
            .try_fold(0usize, |acc, &d| acc.checked_mul(10)?.checked_add(usize::from(d - b'0')))
            .ok_or_else(|| JsonError {
                msg: format!("{what} {} does not fit in {} bits", &self.text[start..self.pos], usize::BITS),
                at: start,
            })
    }

    /// `[integer, ...]`.
    fn integers(&mut self, what: &str) -> Parsed<Vec<usize>> {
        self.expect(b'[', &format!("'[' to open {what}"))?;
        let mut out = Vec::new();
        self.ws();
        if self.eat(b']') {
            return Ok(out);
        }
        loop {
            self.ws();
            out.push(self.integer(&format!("an element of {what}"))?);
            self.ws();
            if !self.eat(b',') {
                self.expect(b']', &format!("',' or ']' in {what}"))?;
                return Ok(out);
            }
        }
    }

    /// `{"dtype": ..., "shape": [...], "data_offsets": [b, e]}` for the tensor `name`.
    fn tensor(&mut self, name: String) -> Parsed<Entry> {
        let shown = escaped(&name);
        let open = self.pos;
        self.expect(b'{', &format!("'{{' to open the description of tensor \"{shown}\""))?;
        let (mut dtype, mut shape, mut offsets) = (None, None, None);
        self.ws();
        if !self.eat(b'}') {
            loop {
                let at = self.pos;
                let field = self.string(&format!("a field name in tensor \"{shown}\""))?;
                self.ws();
                self.expect(b':', "':' after the field name")?;
                self.ws();
                let duplicate = match field.as_str() {
                    "dtype" => {
                        let value = self.string(&format!("the dtype of tensor \"{shown}\" (a string)"))?;
                        dtype.replace(value).is_some()
                    }
                    "shape" => {
                        let value = self.integers(&format!("the shape of tensor \"{shown}\""))?;
                        shape.replace(value).is_some()
                    }
                    "data_offsets" => {
                        let what = format!("the data_offsets of tensor \"{shown}\"");
                        let at = self.pos;
                        let pair = match self.integers(&what)?[..] {
                            [begin, end] => (begin, end),
                            ref other => {
                                return Err(JsonError {
                                    msg: format!("{what} must be [begin, end], found {} number(s)", other.len()),
                                    at,
                                })
                            }
                        };
                        offsets.replace(pair).is_some()
                    }
                    _ => {
                        return Err(JsonError {
                            msg: format!(
                                "unknown field \"{}\" in tensor \"{shown}\" (expected dtype, shape and data_offsets)",
                                escaped(&field)
                            ),
                            at,
                        })
                    }
                };
                if duplicate {
                    return Err(JsonError {
                        msg: format!("field \"{field}\" repeated in tensor \"{shown}\""),
                        at,
                    });
                }
                self.ws();
                if !self.eat(b',') {
                    self.expect(b'}', &format!("',' or '}}' in the description of tensor \"{shown}\""))?;
                    break;
                }
                self.ws();
            }
        }
        let missing =
            |field: &str| JsonError { msg: format!("tensor \"{shown}\" has no \"{field}\""), at: open };
        Ok(Entry {
            dtype: dtype.ok_or_else(|| missing("dtype"))?,
            shape: shape.ok_or_else(|| missing("shape"))?,
            offsets: offsets.ok_or_else(|| missing("data_offsets"))?,
            name,
        })
    }

    /// The `__metadata__` object: string keys (unique) to string values.
    fn metadata(&mut self) -> Parsed<Vec<(String, String)>> {
        self.expect(b'{', "'{' to open \"__metadata__\" (an object of strings)")?;
        let mut out: Vec<(String, String)> = Vec::new();
        let mut keys = HashSet::new();
        self.ws();
        if self.eat(b'}') {
            return Ok(out);
        }
        loop {
            let at = self.pos;
            let key = self.string("a key of \"__metadata__\" (a string)")?;
            if !keys.insert(key.clone()) {
                return Err(JsonError {
                    msg: format!("duplicate key \"{}\" in \"__metadata__\"", escaped(&key)),
                    at,
                });
            }
            self.ws();
            self.expect(b':', "':' after the key")?;
            self.ws();
            let value = self.string("a string (\"__metadata__\" values are strings)")?;
            out.push((key, value));
            self.ws();
            if !self.eat(b',') {
                self.expect(b'}', "',' or '}' in \"__metadata__\"")?;
                return Ok(out);
            }
            self.ws();
        }
    }
}

/// `s` with control characters, quotes and backslashes escaped, for error messages.
pub(super) fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_escaped(&mut out, s);
    out
}

/// Appends `s` escaped the way `serde_json` (hence Hugging Face's writer) escapes strings:
/// `\"`, `\\`, `\b \t \n \f \r`, other bytes below 0x20 as `\u00xx` (lower-case hex);
/// everything else, non-ASCII included, verbatim.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// A JSON string literal.
fn push_string(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// The header text for `tensors` (written in the order given) and `metadata`, as Hugging
/// Face's writer lays it out: compact JSON, `__metadata__` first, then each tensor's
/// `dtype`, `shape`, `data_offsets`; padded with spaces to a multiple of 8 bytes so the
/// data section starts 8-byte aligned.
pub(super) fn write(metadata: &[(&str, &str)], tensors: &[Entry]) -> String {
    let mut out = String::from("{");
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    if !metadata.is_empty() {
        sep(&mut out);
        push_string(&mut out, METADATA_KEY);
        out.push_str(":{");
        for (i, (k, v)) in metadata.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_string(&mut out, k);
            out.push(':');
            push_string(&mut out, v);
        }
        out.push('}');
    }
    for t in tensors {
        sep(&mut out);
        push_string(&mut out, &t.name);
        out.push_str(":{\"dtype\":");
        push_string(&mut out, &t.dtype);
        out.push_str(",\"shape\":[");
        for (i, d) in t.shape.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{d}");
        }
        let _ = write!(out, "],\"data_offsets\":[{},{}]}}", t.offsets.0, t.offsets.1);
    }
    out.push('}');
    let padded = out.len().next_multiple_of(8);
    while out.len() < padded {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dtype: &str, shape: &[usize], offsets: (usize, usize)) -> Entry {
        Entry { name: name.into(), dtype: dtype.into(), shape: shape.to_vec(), offsets }
    }

    fn err(text: &str) -> String {
        parse(text).expect_err(text).to_string()
    }

    #[test]
    fn parses_what_the_writer_writes_and_back() {
        let tensors = vec![
            entry("0.weight", "F32", &[5, 2], (0, 40)),
            entry("scalar", "I64", &[], (40, 48)),
            entry("e\"\\\n\u{1}é😀", "BOOL", &[0, 3], (48, 48)),
        ];
        let text = write(&[("format", "pt")], &tensors);
        assert_eq!(text.len() % 8, 0);
        assert!(text.starts_with(r#"{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F32","shape":[5,2],"data_offsets":[0,40]},"scalar":{"dtype":"I64","shape":[],"data_offsets":[40,48]},"e\"\\\n\u0001é😀":"#), "{text}");
        let header = parse(&text).unwrap();
        assert_eq!(header.tensors, tensors);
        assert_eq!(header.metadata, [("format".to_string(), "pt".to_string())]);
        // No metadata, no tensors.
        assert_eq!(write(&[], &[]), "{}      ");
        assert_eq!(parse("{}      ").unwrap(), Header::default());
    }

    #[test]
    fn accepts_whitespace_any_field_order_and_every_escape() {
        let text = " \t\r\n{ \"a\\u0041\\/\\b\\f\\n\\r\\t\\\"\\\\\\ud83d\\ude00\\u00e9\" : { \"shape\" : [ 1 , 2 ] ,\n \"data_offsets\":[0,8], \"dtype\":\"F32\" } , \"__metadata__\" : { } }  ";
        let header = parse(text).unwrap();
        assert_eq!(header.tensors, [entry("aA/\u{8}\u{c}\n\r\t\"\\😀é", "F32", &[1, 2], (0, 8))]);
        assert!(header.metadata.is_empty());
        assert_eq!(
            parse(r#"{"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#).unwrap().tensors.len(),
            1
        );
    }

    #[test]
    fn rejects_everything_outside_the_grammar() {
        let t = |body: &str| format!(r#"{{"w":{{{body}}}}}"#);
        let ok = r#""dtype":"F32","shape":[2],"data_offsets":[0,8]"#;
        assert!(parse(&t(ok)).is_ok());
        for (text, words) in [
            ("", "expected '{'"),
            ("[]", "expected '{'"),
            ("{", "expected a tensor name"),
            (r#"{"w":1}"#, "'{' to open the description of tensor \"w\""),
            (r#"{"w":{}}"#, "tensor \"w\" has no \"dtype\""),
            (&t(r#""dtype":"F32","shape":[2]"#), "has no \"data_offsets\""),
            (&t(r#""dtype":"F32","data_offsets":[0,8]"#), "has no \"shape\""),
            (&t(&format!("{ok},\"extra\":1")), "unknown field \"extra\""),
            (&t(&format!("{ok},\"dtype\":\"F32\"")), "field \"dtype\" repeated"),
            (&t(r#""dtype":"F32","shape":[2],"data_offsets":[0]"#), "must be [begin, end], found 1"),
            (&t(r#""dtype":"F32","shape":[2],"data_offsets":[0,8,9]"#), "must be [begin, end], found 3"),
            (&t(r#""dtype":"F32","shape":[-2],"data_offsets":[0,8]"#), "must not be negative"),
            (&t(r#""dtype":"F32","shape":[2.0],"data_offsets":[0,8]"#), "no fraction or exponent"),
            (&t(r#""dtype":"F32","shape":[2e0],"data_offsets":[0,8]"#), "no fraction or exponent"),
            (&t(r#""dtype":"F32","shape":[02],"data_offsets":[0,8]"#), "leading zero"),
            (&t(r#""dtype":"F32","shape":[2,],"data_offsets":[0,8]"#), "(a non-negative integer)"),
            (&t(r#""dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]"#), "does not fit in"),
            (&t(r#""dtype":"F32","shape":null,"data_offsets":[0,8]"#), "'[' to open the shape"),
            (&t(r#""dtype":32,"shape":[2],"data_offsets":[0,8]"#), "the dtype of tensor \"w\" (a string)"),
            (&format!("{},", t(ok)), "the end of the header"),
            (&format!("{}x", t(ok)), "the end of the header"),
            (&format!("{}\0", t(ok)), "the end of the header"),
            (r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},}"#, "expected a tensor name"),
            (
                r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
                "duplicate key \"w\"",
            ),
            (r#"{"__metadata__":{},"__metadata__":{}}"#, "duplicate key \"__metadata__\""),
            (r#"{"__metadata__":{"a":"1","a":"2"}}"#, "duplicate key \"a\" in \"__metadata__\""),
            (r#"{"__metadata__":{"a":1}}"#, "values are strings"),
            (r#"{"__metadata__":[]}"#, "an object of strings"),
            ("{\"a\tb\":{}}", "control character U+0009"),
            (r#"{"a\x":{}}"#, "expected an escape"),
            (r#"{"a\u12":{}}"#, "four hex digits"),
            (r#"{"a\ud800":{}}"#, "lone leading surrogate \\ud800"),
            (r#"{"a\ud800\u0041":{}}"#, "not a trailing surrogate"),
            (r#"{"a\udc00":{}}"#, "lone trailing surrogate"),
            (r#"{"abc"#, "unterminated string"),
            (r#"{"abc\"#, "unterminated escape"),
        ] {
            let msg = err(text);
            assert!(msg.contains(words), "{text:?}: {msg:?} lacks {words:?}");
            assert!(msg.contains(" at byte "), "{msg}");
        }
    }

    #[test]
    fn errors_point_at_the_offending_byte() {
        let e = parse(r#"{"w" 1}"#).unwrap_err();
        assert_eq!((e.at, e.msg.as_str()), (5, "expected ':' after the key, found '1'"));
        let e = parse(r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#).unwrap_err();
        assert_eq!(e.at, 29);
    }
}
