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

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Places issues in the file by walking the parsed document.
pub fn place(file: &str, text: &str, issues: Vec<Issue>) -> ConfigErrors {
    let document = DeTable::parse(text).ok();
    ConfigErrors(
        issues
            .into_iter()
            .map(|issue| {
                let span = document.as_ref().map_or(0..0, |d| issue.path.locate(d));
                let (line, column) = line_column(text, span.start);
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
    let (line, column) = line_column(text, error.span().map_or(0, |s| s.start));
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
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        let second_eq = text.rfind('=').unwrap();
        assert_eq!(line_column(text, second_eq), (2, 4));
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
