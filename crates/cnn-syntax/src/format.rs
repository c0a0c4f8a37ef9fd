//! The canonical layout of `.cnn` files: [`format`] is what `cnnc fmt` and the language server's
//! `textDocument/formatting` call.
//!
//! pest's syntax tree drops comments, so this works on tokens: a small lexer for
//! `grammar/cnn.pest` (identifiers, numbers, punctuation, `//` and nestable `/* */` comments), a
//! token-level walk of the grammar that decides the spacing between neighbouring tokens, and a
//! printer that keeps the author's line breaks. It assumes the text parses: a text with an
//! `E0001` is refused, never changed. Before returning, the result is lexed and walked again and
//! must give the same tokens and comments, and must parse; otherwise the text is refused too
//! ([`FormatError::Internal`]), so formatting can change whitespace only, never meaning.
//!
//! The layout, chosen to keep the hand alignment of `examples/`:
//! - Line breaks are the author's; runs of blank lines become one, and there are none at the
//!   start of the file, right after an opening bracket (`{ ( [`) or right before a closing one.
//!   No trailing whitespace, exactly one newline at the end (an empty file stays empty).
//! - Indentation is 2 spaces per open `{`, `(` and `[` (so the continuation lines of an argument
//!   list spread over lines are indented one level); a line starting with a closing bracket is
//!   one level less. The existing indentation is ignored.
//! - At least one space after `,` (more if the author aligned columns, as in a table of
//!   `inception(64,  96,  128, ...)` calls), none before; one after `:` and `;`, none before;
//!   none inside `( ) [ ]`; none between a name and its `(`; one around binary `+ - * / %` and
//!   the repeat `*`; none after unary `-`; `@allow(...)`.
//! - `key=value` in call arguments has no spaces; a block parameter default is `p = value`; a
//!   statement name is `name = op`, where spaces the author put before `=` are kept (alignment).
//! - `model m {`, `seq {`, `block b(c) {`; `{ a b }` when a body is on one line, `{}` when empty.
//! - Statements sharing a line (`seq { conv(8, 3)  batchnorm  relu }`) and items sharing a line
//!   keep the author's spaces between them (at least one); other spaces between words are one.
//! - Pairs keep `3x3` / `k×k` tight when written tight; otherwise `3 x 3`, `k x k`.
//! - Comments are kept verbatim (only trailing whitespace at line ends is dropped). A comment on
//!   its own line is indented like code; the inner lines of a block comment are not touched. A
//!   trailing comment keeps its column (moved with the line's change of indentation) so aligned
//!   comments stay aligned; if the code now reaches that column, it keeps its distance (≥ 1).
//! - An inline block comment (`conv(/* out */ 64, 3)`) keeps the spaces around it as written.

use cnn_diag::{Code, Diagnostic, SourceFile};
use std::borrow::Cow;
use std::fmt;

/// Brackets nested deeper than this are not formatted ([`FormatError::TooDeep`]).
pub const MAX_DEPTH: usize = 256;

/// Why a text was left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The text does not parse (its first `E0001`); `line` and `column` (in characters) are 1-based.
    Syntax { line: usize, column: usize, message: String },
    /// Brackets nested deeper than [`MAX_DEPTH`]: the file parses, but is not formatted.
    TooDeep,
    /// The formatter's self-check failed (a bug here): the result would have changed the tokens,
    /// the comments or the parse, or would not be canonical itself.
    Internal(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Syntax { line, column, message } => {
                write!(f, "not formatted: syntax error at line {line}, column {column}: {message}")
            }
            FormatError::TooDeep => write!(f, "not formatted: brackets nested more than {MAX_DEPTH} deep"),
            FormatError::Internal(what) => write!(f, "not formatted (a formatter bug): {what}"),
        }
    }
}

impl std::error::Error for FormatError {}

/// Format a whole `.cnn` file. Returns the canonical text, which may equal `text`; a text that
/// does not parse is refused with [`FormatError::Syntax`].
pub fn format(text: &str) -> Result<String, FormatError> {
    let source = SourceFile::new("", text);
    let (_, diagnostics) = crate::parse(&source);
    if let Some(d) = diagnostics.iter().find(|d| d.code == Code::SYNTAX) {
        return Err(syntax_error(&source, d));
    }
    let items = analyse(text)?;
    let out = print(text, &items);
    let again = analyse(&out).map_err(|e| FormatError::Internal(format!("the result cannot be re-read: {e}")))?;
    if !signature(text, &items).eq(signature(&out, &again)) {
        return Err(FormatError::Internal("the result has different tokens or comments".into()));
    }
    let (_, diagnostics) = crate::parse(&SourceFile::new("", out.as_str()));
    if diagnostics.iter().any(|d| d.code == Code::SYNTAX) {
        return Err(FormatError::Internal("the result does not parse".into()));
    }
    if cfg!(debug_assertions) && print(&out, &again) != out {
        return Err(FormatError::Internal("formatting the result changes it again".into()));
    }
    Ok(out)
}

fn syntax_error(source: &SourceFile, d: &Diagnostic) -> FormatError {
    let at = source.line_col(d.primary.span.start as usize);
    let line = source.line_text(at.line);
    let column = line.get(..at.byte).map_or(at.byte, |p| p.chars().count()) + 1;
    FormatError::Syntax { line: at.line + 1, column, message: d.message.clone() }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// An identifier or keyword.
    Word,
    Number,
    Punct,
    /// `// ...` (without its line break) or `/* ... */`.
    Comment,
}

/// A token: a byte range of the text.
#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

const PUNCT: &str = "{}()[],=:;*/%+-@×";
const KEYWORDS: [&str; 8] = ["model", "block", "input", "output", "from", "seq", "true", "false"];

/// The tokens of `text`, or the byte offset of something the grammar has no token for.
fn lex(text: &str) -> Result<Vec<Tok>, usize> {
    let bytes = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let start = i;
        let kind = if matches!(c, ' ' | '\t' | '\r' | '\n' | '\u{FEFF}') {
            i += c.len_utf8();
            continue;
        } else if bytes[i..].starts_with(b"//") {
            i = text[i..].find('\n').map_or(text.len(), |n| i + n);
            Kind::Comment
        } else if bytes[i..].starts_with(b"/*") {
            let mut depth = 0usize;
            loop {
                if i >= bytes.len() {
                    return Err(start);
                } else if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            Kind::Comment
        } else if c.is_ascii_alphabetic() || c == '_' {
            i += bytes[i..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
            Kind::Word
        } else if c.is_ascii_digit() {
            i = number_end(bytes, i);
            Kind::Number
        } else if PUNCT.contains(c) {
            i += c.len_utf8();
            Kind::Punct
        } else {
            return Err(start);
        };
        toks.push(Tok { kind, start, end: i });
    }
    Ok(toks)
}

/// The end of the number starting at `i`: `64`, `0.5`, `1e-5`, `2.5E3` (as `number` in the grammar).
fn number_end(b: &[u8], i: usize) -> usize {
    let digits = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let mut i = digits(i);
    if b.get(i) == Some(&b'.') && digit_at(i + 1) {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let j = if matches!(b.get(i + 1), Some(b'+' | b'-')) { i + 2 } else { i + 1 };
        if digit_at(j) {
            i = digits(j);
        }
    }
    i
}

// ---------------------------------------------------------------------------------------------
// The grammar walk: the spaces before each code token

enum WalkError {
    /// The tokens do not follow the grammar here (a byte offset); cannot happen for parsed text.
    Confused(usize),
    TooDeep,
}

type Step = Result<(), WalkError>;

/// A recursive-descent walk over the code tokens that mirrors `grammar/cnn.pest` and records,
/// for each token, how many spaces go before it when it shares a line with the previous one.
struct Walk<'a> {
    text: &'a str,
    toks: Vec<Tok>,
    gaps: Vec<usize>,
    pos: usize,
    depth: usize,
}

impl<'a> Walk<'a> {
    fn s(&self, k: usize) -> &'a str {
        self.toks.get(self.pos + k).map_or("", |t| &self.text[t.start..t.end])
    }

    fn at(&self, s: &str) -> bool {
        self.pos < self.toks.len() && self.s(0) == s
    }

    fn kind(&self, k: usize) -> Option<Kind> {
        self.toks.get(self.pos + k).map(|t| t.kind)
    }

    /// An identifier (a word that is not a keyword).
    fn ident_at(&self, k: usize) -> bool {
        self.kind(k) == Some(Kind::Word) && !KEYWORDS.contains(&self.s(k))
    }

    /// A side of a pair: a number or an identifier.
    fn atom_at(&self, k: usize) -> bool {
        self.kind(k) == Some(Kind::Number) || self.ident_at(k)
    }

    fn confused(&self) -> WalkError {
        WalkError::Confused(self.toks.get(self.pos).map_or(self.text.len(), |t| t.start))
    }

    fn bump(&mut self, gap: usize) -> Step {
        if self.pos >= self.toks.len() {
            return Err(self.confused());
        }
        self.gaps[self.pos] = gap;
        self.pos += 1;
        Ok(())
    }

    fn expect(&mut self, s: &str, gap: usize) -> Step {
        if !self.at(s) {
            return Err(self.confused());
        }
        self.bump(gap)
    }

    fn ident(&mut self, gap: usize) -> Step {
        if !self.ident_at(0) {
            return Err(self.confused());
        }
        self.bump(gap)
    }

    fn any(&mut self, gap: usize) -> Step {
        self.bump(gap)
    }

    /// The characters between token `i` and the one before it, or 1 across a line break.
    fn written_gap(&self, i: usize) -> usize {
        match (i.checked_sub(1).and_then(|p| self.toks.get(p)), self.toks.get(i)) {
            (Some(p), Some(t)) => {
                let between = &self.text[p.end..t.start];
                if between.contains('\n') {
                    1
                } else {
                    between.chars().count()
                }
            }
            _ => 1,
        }
    }

    /// The author's spacing before the current token, at least one space.
    fn kept(&self) -> usize {
        self.written_gap(self.pos).max(1)
    }

    fn file(&mut self) -> Step {
        while self.pos < self.toks.len() {
            let gap = self.kept();
            let gap = self.attributes(gap)?;
            match self.s(0) {
                "model" => {
                    self.bump(gap)?;
                    self.ident(1)?;
                }
                "block" => {
                    self.bump(gap)?;
                    self.ident(1)?;
                    self.list("(", ")", 0, Self::param)?;
                }
                _ => return Err(self.confused()),
            }
            self.body(1)?;
        }
        Ok(())
    }

    /// `open item, item, ... close` with an optional trailing comma.
    fn list(&mut self, open: &str, close: &str, gap: usize, item: fn(&mut Self, usize) -> Step) -> Step {
        self.expect(open, gap)?;
        self.enter()?;
        if !self.at(close) {
            item(self, 0)?;
            while self.at(",") {
                self.bump(0)?;
                if self.at(close) {
                    break;
                }
                let gap = self.kept();
                item(self, gap)?;
            }
        }
        self.depth -= 1;
        self.expect(close, 0)
    }

    fn enter(&mut self) -> Step {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(WalkError::TooDeep);
        }
        Ok(())
    }

    /// `@allow(...)*`; returns the gap for the token after them.
    fn attributes(&mut self, mut gap: usize) -> Result<usize, WalkError> {
        while self.at("@") {
            self.bump(gap)?;
            self.expect("allow", 0)?;
            self.list("(", ")", 0, Self::any)?;
            gap = 1;
        }
        Ok(gap)
    }

    fn param(&mut self, gap: usize) -> Step {
        self.ident(gap)?;
        if self.at("=") {
            self.bump(1)?;
            self.value(1)?;
        }
        Ok(())
    }

    fn body(&mut self, gap: usize) -> Step {
        self.expect("{", gap)?;
        self.enter()?;
        let mut empty = true;
        while !self.at("}") {
            let gap = if empty { 1 } else { self.kept() };
            self.statement(gap)?;
            empty = false;
        }
        self.depth -= 1;
        self.expect("}", if empty { 0 } else { 1 })
    }

    fn statement(&mut self, gap: usize) -> Step {
        let mut gap = self.attributes(gap)?;
        match self.s(0) {
            "input" => {
                self.bump(gap)?;
                self.ident(1)?;
                self.expect(":", 0)?;
                self.list("[", "]", 1, Self::any)?;
            }
            "output" => {
                self.bump(gap)?;
                self.ident(1)?;
                while self.at(",") {
                    self.bump(0)?;
                    let gap = self.kept();
                    self.ident(gap)?;
                }
            }
            _ => {
                if self.s(1) == "=" && (self.ident_at(0) || self.kind(0) == Some(Kind::Number)) {
                    self.bump(gap)?;
                    let before_eq = self.kept();
                    self.bump(before_eq)?;
                    gap = 1;
                }
                if self.at("from") {
                    self.bump(gap)?;
                    self.ident(1)?;
                    gap = 1;
                }
                if self.at("seq") {
                    self.bump(gap)?;
                    self.body(1)?;
                } else if self.at("{") {
                    self.body(gap)?;
                } else {
                    self.ident(gap)?;
                    if self.at("(") {
                        self.list("(", ")", 0, Self::arg)?;
                    }
                    if self.at("*") {
                        self.bump(1)?;
                        self.bump(1)?;
                    }
                }
            }
        }
        if self.at(";") {
            self.bump(0)?;
        }
        Ok(())
    }

    fn arg(&mut self, gap: usize) -> Step {
        if self.ident_at(0) && self.s(1) == "=" {
            self.bump(gap)?;
            self.bump(0)?;
            self.value(0)
        } else {
            self.value(gap)
        }
    }

    fn value(&mut self, gap: usize) -> Step {
        if self.atom_at(0) && self.split_times() {
            let tight = self.written_gap(self.pos + 1) == 0 && self.written_gap(self.pos + 2) == 0;
            let around = if tight { 0 } else { 1 };
            self.bump(gap)?;
            self.bump(around)?;
            if !self.atom_at(0) {
                return Err(self.confused());
            }
            return self.bump(around);
        }
        self.expr(gap)
    }

    /// Whether the token after the current atom is a pair's `x` or `×` followed by an atom. pest
    /// reads `3x3` as `3`, `x`, `3` and `k x3` as `k`, `x`, `3`, where the lexer sees the words
    /// `x3`: such a word is split here into `x` and the rest.
    fn split_times(&mut self) -> bool {
        let Some(&t) = self.toks.get(self.pos + 1) else { return false };
        let s = &self.text[t.start..t.end];
        if s == "x" || s == "×" {
            return self.atom_at(2);
        }
        if t.kind != Kind::Word || !s.starts_with('x') {
            return false;
        }
        let rest = match lex(&s[1..]) {
            Ok(rest) if rest.len() == 1 && !KEYWORDS.contains(&&s[1..]) => rest[0],
            _ => return false,
        };
        let times = Tok { kind: Kind::Word, start: t.start, end: t.start + 1 };
        let rest = Tok { kind: rest.kind, start: t.start + 1, end: t.end };
        self.toks.splice(self.pos + 1..self.pos + 2, [times, rest]);
        self.gaps.insert(self.pos + 1, 1);
        true
    }

    fn expr(&mut self, gap: usize) -> Step {
        self.term(gap)?;
        while self.at("+") || self.at("-") {
            self.bump(1)?;
            self.term(1)?;
        }
        Ok(())
    }

    fn term(&mut self, gap: usize) -> Step {
        self.factor(gap)?;
        while self.at("*") || self.at("/") || self.at("%") {
            self.bump(1)?;
            self.factor(1)?;
        }
        Ok(())
    }

    /// `-`? then a number, boolean, name, `( expr )` or a tuple `(a, b)`.
    fn factor(&mut self, mut gap: usize) -> Step {
        if self.at("-") {
            self.bump(gap)?;
            gap = 0;
        }
        if self.at("(") {
            self.list("(", ")", gap, Self::expr)
        } else if matches!(self.kind(0), Some(Kind::Word | Kind::Number)) {
            self.bump(gap)
        } else {
            Err(self.confused())
        }
    }
}

/// A token to print, with the spaces before it (`None` for comments, which keep theirs).
type Item = (Tok, Option<usize>);

/// Lex and walk `text`: every token in order, code tokens with their spacing.
fn analyse(text: &str) -> Result<Vec<Item>, FormatError> {
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let tokens = lex(text).map_err(|at| FormatError::Internal(format!("no token at line {}", line_of(at))))?;
    let (code, comments): (Vec<Tok>, Vec<Tok>) = tokens.into_iter().partition(|t| t.kind != Kind::Comment);
    let gaps = vec![1; code.len()];
    let mut walk = Walk { text, toks: code, gaps, pos: 0, depth: 0 };
    let walked = walk.file().and_then(|()| if walk.pos == walk.toks.len() { Ok(()) } else { Err(walk.confused()) });
    match walked {
        Ok(()) => {}
        Err(WalkError::TooDeep) => return Err(FormatError::TooDeep),
        Err(WalkError::Confused(at)) => {
            return Err(FormatError::Internal(format!("lost the grammar at line {}", line_of(at))))
        }
    }
    let mut items = Vec::with_capacity(walk.toks.len() + comments.len());
    let mut comments = comments.into_iter().peekable();
    for (tok, gap) in walk.toks.into_iter().zip(walk.gaps) {
        while let Some(c) = comments.next_if(|c| c.start < tok.start) {
            items.push((c, None));
        }
        items.push((tok, Some(gap)));
    }
    items.extend(comments.map(|c| (c, None)));
    Ok(items)
}

/// What formatting must not change: the code tokens, and the comments up to trailing whitespace.
fn signature<'t>(text: &'t str, items: &'t [Item]) -> impl Iterator<Item = Cow<'t, str>> + 't {
    items.iter().map(move |(t, gap)| {
        let s = &text[t.start..t.end];
        match gap {
            Some(_) => Cow::Borrowed(s),
            None if !s.contains('\n') => Cow::Borrowed(trim_line(s)),
            None => Cow::Owned(s.split('\n').map(trim_line).collect::<Vec<_>>().join("\n")),
        }
    })
}

fn trim_line(line: &str) -> &str {
    line.trim_end_matches([' ', '\t', '\r'])
}

/// Characters from the start of the line to byte `at`.
fn column(text: &str, at: usize) -> usize {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    text[line_start..at].chars().count()
}

fn print(text: &str, items: &[Item]) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut line_start = 0; // where the current line starts in `out`
    let mut shift = 0isize; // how far the current line moved right (its change of indentation)
    let mut depth = 0usize;
    let mut opened = false; // the current line's last code token is an opening bracket
    for (k, &(t, gap)) in items.iter().enumerate() {
        let s = &text[t.start..t.end];
        let closer = matches!(s, "}" | ")" | "]") && gap.is_some();
        let before = k.checked_sub(1).map(|p| &text[items[p].0.end..t.start]);
        let breaks = before.map_or(0, |b| b.matches('\n').count());
        if before.is_none() || breaks > 0 {
            if before.is_some() {
                end_line(&mut out);
                if breaks > 1 && !opened && !closer {
                    out.push('\n');
                }
            }
            line_start = out.len();
            let indent = 2 * depth.saturating_sub(usize::from(closer));
            out.extend(std::iter::repeat(' ').take(indent));
            shift = indent as isize - column(text, t.start) as isize;
            opened = false;
        } else {
            let written = before.map_or(0, |b| b.chars().count());
            let prev_is_comment = items[k - 1].1.is_none();
            let trailing = gap.is_none() && items.get(k + 1).map_or(true, |n| text[t.end..n.0.start].contains('\n'));
            let spaces = if trailing {
                let now = out[line_start..].chars().count() as isize;
                let target = column(text, t.start) as isize + shift;
                if target > now {
                    (target - now) as usize
                } else {
                    written.max(1)
                }
            } else if gap.is_none() || prev_is_comment {
                written
            } else {
                gap.unwrap_or(1)
            };
            out.extend(std::iter::repeat(' ').take(spaces));
        }
        if gap.is_none() {
            let mut lines = s.split('\n');
            out.push_str(trim_line(lines.next().unwrap_or_default()));
            for line in lines {
                out.push('\n');
                out.push_str(trim_line(line));
                line_start = out.len() - trim_line(line).len();
                shift = 0;
            }
        } else {
            out.push_str(s);
            opened = matches!(s, "{" | "(" | "[");
            if opened {
                depth += 1;
            } else if closer {
                depth = depth.saturating_sub(1);
            }
        }
    }
    end_line(&mut out);
    out
}

fn end_line(out: &mut String) {
    let trimmed = out.trim_end_matches(' ').len();
    out.truncate(trimmed);
    if !out.is_empty() {
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn cnn_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for dir in ["examples", "examples/bench", "examples/errors", "tests/ui"] {
            let entries = std::fs::read_dir(repo().join(dir)).unwrap();
            let mut here: Vec<PathBuf> =
                entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "cnn")).collect();
            here.sort();
            files.extend(here);
        }
        files
    }

    fn parses(text: &str) -> bool {
        crate::parse(&SourceFile::new("", text)).1.iter().all(|d| d.code != Code::SYNTAX)
    }

    /// The raw tokens and the comments (up to trailing whitespace), read without the walk.
    fn content(text: &str) -> (Vec<String>, Vec<String>) {
        let toks = lex(text).unwrap();
        let text_of = |t: &Tok| text[t.start..t.end].split('\n').map(trim_line).collect::<Vec<_>>().join("\n");
        let code = toks.iter().filter(|t| t.kind != Kind::Comment).map(text_of).collect();
        let comments = toks.iter().filter(|t| t.kind == Kind::Comment).map(text_of).collect();
        (code, comments)
    }

    /// Format `text`, check what every result must satisfy, and return it.
    fn check(name: &str, text: &str) -> String {
        let out = format(text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        assert_eq!(format(&out).as_ref(), Ok(&out), "{name}: formatting is not idempotent");
        let (code, comments) = content(text);
        assert_eq!((code.concat(), &comments), (content(&out).0.concat(), &content(&out).1), "{name}");
        assert!(parses(&out), "{name}: the result does not parse");
        assert!(out.lines().all(|l| !l.ends_with([' ', '\t'])), "{name}: trailing whitespace");
        assert!(out.is_empty() || (out.ends_with('\n') && !out.ends_with("\n\n")), "{name}: file end");
        assert!(!out.starts_with('\n') && !out.contains("\n\n\n"), "{name}: blank lines");
        out
    }

    #[test]
    fn repository_files_are_kept_and_mostly_canonical() {
        let (mut parsed, mut canonical, mut changed, mut refused) = (0, 0, Vec::new(), 0);
        for path in cnn_files() {
            let name = path.strip_prefix(repo()).unwrap_or(&path).display().to_string();
            let text = std::fs::read_to_string(&path).unwrap();
            if !parses(&text) {
                assert!(matches!(format(&text), Err(FormatError::Syntax { .. })), "{name}");
                refused += 1;
                continue;
            }
            parsed += 1;
            let out = check(&name, &text);
            assert_eq!(content(&text), content(&out), "{name}: the raw tokens changed");
            if out == text {
                canonical += 1;
            } else {
                changed.push(name);
            }
        }
        eprintln!("{canonical} of {parsed} parsing files already canonical; {refused} refused; changed: {changed:?}");
        assert!(parsed >= 50 && refused >= 2);
    }

    #[test]
    fn documentation_snippets_are_kept() {
        for doc in ["docs/LANGUAGE.md", "README.md"] {
            let text = std::fs::read_to_string(repo().join(doc)).unwrap();
            for (i, snippet) in text.split("```cnn\n").skip(1).enumerate() {
                let snippet = snippet.split("```").next().unwrap();
                if parses(snippet) {
                    assert_eq!(check(&format!("{doc} #{i}"), snippet), snippet, "{doc} snippet {i}");
                }
            }
        }
    }

    fn assert_formats(before: &str, after: &str) {
        assert_eq!(check("before", before), after);
        assert_eq!(check("after", after), after);
    }

    #[test]
    fn messy_spacing_and_indentation() {
        assert_formats(
            "model   m{\ninput x :[N,3 ,H,W]\n      conv1=conv( 64,3 ,stride = 2,padding=(3-1)/2, )\n\
             relu*2;relu\n  l = basic(64)*2\n    }",
            "model m {\n  input x: [N, 3, H, W]\n  conv1 = conv(64, 3, stride=2, padding=(3 - 1) / 2,)\n\
             \x20 relu * 2; relu\n  l = basic(64) * 2\n}\n",
        );
        assert_formats(
            "@allow( W0003 ,W0006 )   model m {\n input  x : [ 1 , 3 , 8 , 8 , ]\n\
             @allow(W0003)@allow(W0001)  spare=from   x conv(8,1) ;\n output spare , x\n}\n",
            "@allow(W0003, W0006) model m {\n  input x: [1, 3, 8, 8,]\n\
             \x20 @allow(W0003) @allow(W0001) spare = from x conv(8, 1);\n  output spare, x\n}\n",
        );
    }

    #[test]
    fn blank_lines_and_file_ends() {
        assert_formats(
            "\n\n// top\n\n\n@allow(W0003)\nmodel m {\n\n\n  input x: [1, 3, 8, 8]\n\n\n\n  relu\n\n}\n\n\n",
            "// top\n\n@allow(W0003)\nmodel m {\n  input x: [1, 3, 8, 8]\n\n  relu\n}\n",
        );
        assert_formats(
            "model m {\r\n  input x: [1, 3, 8, 8]  \r\n  relu\t\r\n}",
            "model m {\n  input x: [1, 3, 8, 8]\n  relu\n}\n",
        );
        assert_formats("", "");
        assert_formats(" \n\n\t\n", "");
        assert_formats("// only a comment   ", "// only a comment\n");
    }

    #[test]
    fn parameters_expressions_and_pairs() {
        assert_formats(
            "block b(c,d=c*2,k = 3x3,m=-1) {\nconv(c, k x k, padding=- 1)\nconv(d,3 x 3)  conv(d, 3  ×3)\n\
             a = conv(10 - -1, 1x7,  stride = (1,2))*3\nconv(c%2+ (c)/ -d, k×k)\n}\nmodel m { input x: [1, 8, 8, 8] b(8) }",
            "block b(c, d = c * 2, k = 3x3, m = -1) {\n  conv(c, k x k, padding=-1)\n  conv(d, 3 x 3)  conv(d, 3 × 3)\n\
             \x20 a = conv(10 - -1, 1x7,  stride=(1, 2)) * 3\n  conv(c % 2 + (c) / -d, k×k)\n}\n\
             model m { input x: [1, 8, 8, 8] b(8) }\n",
        );
        // pest reads `3 xk` as the pair 3 × k; spaced on both sides, it stays that pair.
        assert_formats(
            "model m { input x: [1, 8, 8, 8] conv(8, 3 xk) }",
            "model m { input x: [1, 8, 8, 8] conv(8, 3 x k) }\n",
        );
    }

    #[test]
    fn one_line_bodies_keep_their_statement_spacing() {
        let text = "model m { input x: [1, 3, 8, 8]\n  f = seq{conv(8,3) batchnorm   relu}\n  g = { }\n\
                    \x20 h = seq { seq { conv(8, 1)                  relu }  relu }\n} model n {input y: [1, 2] relu}";
        let want = "model m { input x: [1, 3, 8, 8]\n  f = seq { conv(8, 3) batchnorm   relu }\n  g = {}\n\
                    \x20 h = seq { seq { conv(8, 1)                  relu }  relu }\n} model n { input y: [1, 2] relu }\n";
        assert_formats(text, want);
    }

    #[test]
    fn alignment_of_names_and_comments_is_kept() {
        let text = "model m {\n      input x: [1,3,8,8]    // a\n      relu                  // b\n\
                    \x20     bn1   = batchnorm\n      conv2 = conv(8,3)\n  t = conv(64,  3,padding=1)\n}\n";
        let want = "model m {\n  input x: [1, 3, 8, 8] // a\n  relu                  // b\n\
                    \x20 bn1   = batchnorm\n  conv2 = conv(8, 3)\n  t = conv(64,  3, padding=1)\n}\n";
        assert_formats(text, want);
    }

    #[test]
    fn comments_are_kept_verbatim() {
        let text = "/* header\n   keeps   its inner   \n     indentation */\nmodel m {   // opens\n\
                    \x20     // own line, re-indented\n  input x: [1, 3, 8, 8]   /* trailing block */\n\
                    \x20 conv(/* out */ 8,3)        // aligned\n  relu                       // aligned\n\
                    \x20       /* nested /* block */ comment */ relu//tight\n  relu /*a*/ /*b*/\n    // before }\n}\n// end";
        let want = "/* header\n   keeps   its inner\n     indentation */\nmodel m {   // opens\n\
                    \x20 // own line, re-indented\n  input x: [1, 3, 8, 8]   /* trailing block */\n\
                    \x20 conv(/* out */ 8, 3)       // aligned\n  relu                       // aligned\n\
                    \x20 /* nested /* block */ comment */ relu //tight\n  relu /*a*/ /*b*/\n  // before }\n}\n// end\n";
        assert_formats(text, want);
    }

    #[test]
    fn argument_lists_over_several_lines() {
        assert_formats(
            "model m {\n  input x: [1, 3, 8, 8]\n  c = conv(\n  8,\n        3,\n\n           padding=1,\n    )\n}\n",
            "model m {\n  input x: [1, 3, 8, 8]\n  c = conv(\n    8,\n    3,\n\n    padding=1,\n  )\n}\n",
        );
    }

    #[test]
    fn syntax_errors_are_refused() {
        let text = "model m {\n  input x: [1, 3, 8, 8]\n  conv(16, 3,, padding=1)\n}\n";
        match format(text) {
            Err(FormatError::Syntax { line: 3, column, .. }) => assert!(column > 1),
            other => panic!("{other:?}"),
        }
        for broken in ["model m {", "model m { relu } /* open", "model m { input x: [1, 2] relu } §", "block"] {
            assert!(matches!(format(broken), Err(FormatError::Syntax { .. })), "{broken}");
        }
        assert!(format(text).unwrap_err().to_string().contains("line 3"));
    }

    #[test]
    fn deep_nesting_is_refused_not_crashed() {
        let nested = |n: usize| format!("model m {{ input x: [1, 2] g = {}relu{} }}", "{ ".repeat(n), " }".repeat(n));
        assert_eq!(format(&nested(MAX_DEPTH + 10)), Err(FormatError::TooDeep));
        check("200 deep", &nested(200));
    }

    /// Every repository file with its whitespace shuffled: whenever pest accepts the result, so
    /// does the formatter, and the output keeps the tokens and is canonical.
    #[test]
    fn shuffled_whitespace() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        const GAPS: [&str; 7] = [" ", "", "  ", "\n", "\n\n\n  ", "\t", "   \n "];
        let (mut accepted, mut total) = (0, 0);
        for path in cnn_files() {
            let text = std::fs::read_to_string(&path).unwrap();
            let toks = lex(&text).unwrap();
            for round in 0..8 {
                let mut shuffled = String::new();
                for (i, t) in toks.iter().enumerate() {
                    let word = |t: &Tok| t.kind != Kind::Punct;
                    if i > 0 {
                        let prev = toks[i - 1];
                        let mut gap = GAPS[next(GAPS.len())];
                        if text[prev.start..prev.end].starts_with("//") {
                            gap = "\n";
                        } else if gap.is_empty() && word(&prev) && word(t) {
                            gap = " ";
                        }
                        shuffled.push_str(gap);
                    }
                    shuffled.push_str(&text[t.start..t.end]);
                }
                total += 1;
                if parses(&shuffled) {
                    accepted += 1;
                    check(&format!("{} round {round}", path.display()), &shuffled);
                } else {
                    assert!(matches!(format(&shuffled), Err(FormatError::Syntax { .. })));
                }
            }
        }
        eprintln!("{accepted} of {total} shuffles parse");
        assert!(accepted * 2 > total, "only {accepted} of {total} shuffles parse");
    }
}
