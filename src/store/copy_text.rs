//! PostgreSQL `COPY … FROM STDIN` text format, for the bulk paths (redirect
//! batches, imports): a row is tab-separated fields ending in a newline,
//! `\N` is NULL, and a backslash, tab, newline or carriage return inside a
//! field is written as a backslash escape. The server reads it with no JSON
//! parsing of the batch and no per-row statement.

use std::fmt::Display;
use std::io::Write as _;

/// A COPY payload being built, row by row.
#[derive(Default)]
pub(crate) struct CopyText {
    buf: Vec<u8>,
    fields_in_row: usize,
    /// Where `json` serialises a value before escaping it.
    scratch: Vec<u8>,
}

impl CopyText {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            fields_in_row: 0,
            scratch: Vec::new(),
        }
    }

    fn separate(&mut self) {
        if self.fields_in_row > 0 {
            self.buf.push(b'\t');
        }
        self.fields_in_row += 1;
    }

    /// An integer, formatted without the `Display` machinery (two per
    /// redirect row, millions per import).
    pub(crate) fn int(&mut self, value: i64) -> &mut Self {
        self.separate();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        self
    }

    /// A value serialised as JSON, then escaped: into a scratch buffer the
    /// payload reuses (no allocation per row), scanned once.
    pub(crate) fn json(&mut self, value: &impl serde::Serialize) -> &mut Self {
        self.separate();
        self.scratch.clear();
        if serde_json::to_writer(&mut self.scratch, value).is_err() {
            // Only a failing Serialize impl gets here: an empty object
            // instead of half a value.
            self.scratch.clear();
            self.scratch.extend_from_slice(b"{}");
        }
        escape_into(&mut self.buf, &self.scratch);
        self
    }

    /// A number or other value whose text needs no escaping.
    pub(crate) fn plain(&mut self, value: impl Display) -> &mut Self {
        self.separate();
        // Writing into a Vec cannot fail.
        let _ = write!(self.buf, "{value}");
        self
    }

    pub(crate) fn int_opt(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub(crate) fn null(&mut self) -> &mut Self {
        self.separate();
        self.buf.extend_from_slice(b"\\N");
        self
    }

    /// Raw bytes, escaped as the text format requires.
    pub(crate) fn text(&mut self, value: &[u8]) -> &mut Self {
        self.separate();
        escape_into(&mut self.buf, value);
        self
    }

    /// Text, or `\N` for none.
    pub(crate) fn text_opt(&mut self, value: Option<&[u8]>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// Ends the current row.
    pub(crate) fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.fields_in_row = 0;
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

fn is_special(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n' | b'\r')
}

/// Whether `value` holds a byte the text format escapes. Scanned in
/// blocks without an early exit inside a block, which the compiler turns
/// into vector compares: nearly every field has none.
fn needs_escape(value: &[u8]) -> bool {
    value
        .chunks(32)
        .any(|block| block.iter().fold(false, |any, &b| any | is_special(b)))
}

fn escape_into(out: &mut Vec<u8>, value: &[u8]) {
    if !needs_escape(value) {
        out.extend_from_slice(value);
        return;
    }
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&value[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&value[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_tab_separated_rows_end_in_newlines_and_specials_are_escaped() {
        let mut copy = CopyText::default();
        copy.plain(7).null().text(br#"{"a":"x\"y"}"#);
        copy.end_row();
        copy.text(b"tab\there\nline\rcr\\").int_opt(None);
        copy.end_row();
        copy.int(-42).json(&serde_json::json!({"ua": "a\tb\\c"}));
        copy.end_row();
        assert_eq!(
            String::from_utf8(copy.into_bytes()).unwrap(),
            "7\t\\N\t{\"a\":\"x\\\\\"y\"}\ntab\\there\\nline\\rcr\\\\\t\\N\n\
             -42\t{\"ua\":\"a\\\\tb\\\\\\\\c\"}\n"
        );
    }
}
