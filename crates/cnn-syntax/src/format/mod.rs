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
//!   one level less. The existing indentation is ignored, and nothing else decides it: a
//!   statement continued on the next line outside brackets (`from x` / `seq {`) is not indented.
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
    let again = analyse(&out)?;
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
            out.push_str(&" ".repeat(indent));
            shift = indent as isize - column(text, t.start) as isize;
            opened = false;
        } else {
            let written = before.map_or(0, |b| b.chars().count());
            let prev_is_comment = items[k - 1].1.is_none();
            // A comment is trailing when it ends its line.
            let line_ends = items.get(k + 1).map(|n| text[t.end..n.0.start].contains('\n'));
            let trailing = gap.is_none() && line_ends != Some(false);
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
            out.push_str(&" ".repeat(spaces));
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
mod tests;
