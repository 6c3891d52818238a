//! Errors that name the file, line and column of the offending value and say what is expected.

use std::fmt;
use std::ops::Range;

use toml::de::DeTable;
use toml::Spanned;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(&'static str),
    Index(usize),
}

/// Where a value lives in the document: `database[0].locator[1].weight`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn root() -> Self {
        Self::default()
    }

    pub fn key(&self, key: &'static str) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Key(key));
        next
    }

    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(Segment::Index(index));
        next
    }

    /// The index right under the top-level `key` (`map_cache[7].prefix` under `map_cache`: 7).
    pub fn index_under(&self, key: &str) -> Option<usize> {
        match self.0.as_slice() {
            [Segment::Key(first), Segment::Index(index), ..] if *first == key => Some(*index),
            _ => None,
        }
    }

    /// The span of the deepest part of the path present in the document (a defaulted field points
    /// at its table).
    fn locate(&self, document: &Spanned<DeTable<'_>>) -> Range<usize> {
        let mut span = 0..0;
        let mut segments = self.0.iter();
        let Some(Segment::Key(first)) = segments.next() else {
            return span;
        };
        let Some(mut value) = document.get_ref().get(*first) else {
            return span;
        };
        span = value.span();
        for segment in segments {
            let next = match segment {
                Segment::Key(key) => value.get_ref().get(*key),
                Segment::Index(index) => value.get_ref().get(*index),
            };
            match next {
                Some(found) => {
                    value = found;
                    span = value.span();
                }
                None => break,
            }
        }
        span
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if i == 0 => write!(f, "{key}")?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A rule broken at a path, before it is placed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: FieldPath,
    pub message: String,
}

/// One error, placed in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the value (empty for syntax errors).
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

/// Every error found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Byte offsets of line starts, built once per file so placing many errors in a large file
/// costs a binary search each rather than a scan from the top.
pub struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, line_starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let line_start = self.line_starts[line - 1];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(0, |s| s.chars().count());
        (line, column + 1)
    }
}

/// Places issues in the file by walking the parsed document.
pub fn place(file: &str, text: &str, issues: Vec<Issue>) -> ConfigErrors {
    place_with_bulk(file, text, issues, None)
}

/// Static mappings read from a `map_cache_file`: where they start in `map_cache` and the line of
/// each.
#[derive(Debug)]
pub struct BulkLines<'a> {
    pub file: &'a str,
    pub first: usize,
    pub lines: &'a [usize],
}

/// As [`place`], with issues of `map_cache` entries from a bulk file placed at their line there.
pub fn place_with_bulk(
    file: &str,
    text: &str,
    issues: Vec<Issue>,
    bulk: Option<&BulkLines<'_>>,
) -> ConfigErrors {
    let document = DeTable::parse(text).ok();
    let lines = LineIndex::new(text);
    ConfigErrors(
        issues
            .into_iter()
            .map(|issue| {
                let bulk_line = bulk.and_then(|b| {
                    let index = issue.path.index_under("map_cache")?.checked_sub(b.first)?;
                    Some((b.file, b.lines.get(index).copied()?))
                });
                if let Some((bulk_file, line)) = bulk_line {
                    return Diagnostic {
                        file: bulk_file.to_owned(),
                        line,
                        column: 0,
                        path: issue.path.to_string(),
                        message: issue.message,
                    };
                }
                let span = document.as_ref().map_or(0..0, |d| issue.path.locate(d));
                let (line, column) = lines.line_column(span.start);
                Diagnostic {
                    file: file.to_owned(),
                    line,
                    column,
                    path: issue.path.to_string(),
                    message: issue.message,
                }
            })
            .collect(),
    )
}

/// A syntax or type error from the TOML deserializer.
pub fn from_toml_error(file: &str, text: &str, error: &toml::de::Error) -> ConfigErrors {
    let (line, column) = LineIndex::new(text).line_column(error.span().map_or(0, |s| s.start));
    ConfigErrors(vec![Diagnostic {
        file: file.to_owned(),
        line,
        column,
        path: String::new(),
        message: error.message().trim().to_owned(),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        let lines = LineIndex::new(text);
        assert_eq!(lines.line_column(0), (1, 1));
        assert_eq!(
            lines.line_column(5),
            (1, 6),
            "the newline ends its own line"
        );
        assert_eq!(lines.line_column(6), (2, 1));
        assert_eq!(lines.line_column(text.find('=').unwrap()), (1, 3));
        let second_eq = text.rfind('=').unwrap();
        assert_eq!(lines.line_column(second_eq), (2, 4));
        assert_eq!(lines.line_column(text.len() + 7), (3, 1));
    }

    #[test]
    fn paths_print_like_toml() {
        let path = FieldPath::root()
            .key("database")
            .index(2)
            .key("locator")
            .index(0)
            .key("weight");
        assert_eq!(path.to_string(), "database[2].locator[0].weight");
    }

    #[test]
    fn locate_finds_the_deepest_present_value() {
        let text = "[[database]]\nprefix = \"10.0.0.0/8\"\n[[database.locator]]\naddress = \"192.0.2.1\"\n";
        let document = DeTable::parse(text).expect("valid");
        let weight = FieldPath::root()
            .key("database")
            .index(0)
            .key("locator")
            .index(0);
        let span = weight.key("weight").locate(&document);
        assert_eq!(
            span,
            weight.locate(&document),
            "a defaulted key points at its table"
        );
        let address = weight.key("address").locate(&document);
        assert_eq!(&text[address], "\"192.0.2.1\"");
    }
}
