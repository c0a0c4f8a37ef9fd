//! Runs the pest grammar and reports syntax errors as `E0001` diagnostics whose wording uses
//! the tokens people type (`)`, `an argument`), never pest's rule names.

use crate::{ast, builder};
use cnn_diag::{Code, Diagnostic, SourceFile, Span};
use pest::error::{ErrorVariant, InputLocation};
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/cnn.pest"]
pub(crate) struct CnnParser;

/// How many broken lines recovery blanks out before giving up on the rest of the file.
const MAX_RECOVERIES: usize = 32;

/// Parse a file. Each syntax error is reported (E0001) and recovered from line by line: the
/// broken line is blanked out (its braces kept, so the structure stays) and the file parsed
/// again, so one typo does not hide the rest of the file. Blanking keeps every byte offset, so
/// spans in the AST point into the original text. If recovery fails, the AST is empty.
pub fn parse(source: &SourceFile) -> (ast::File, Vec<Diagnostic>) {
    if let Some(too_deep) = nesting_error(source.text()) {
        return (ast::File::default(), vec![too_deep]);
    }
    let mut text = source.text().to_string();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut blanked: Vec<usize> = Vec::new();
    for _ in 0..=MAX_RECOVERIES {
        let error = match CnnParser::parse(Rule::file, &text) {
            Ok(pairs) => return (builder::file(pairs), diagnostics),
            Err(error) => error,
        };
        let offset = error_offset(&error);
        let diagnostic = syntax_error(&text, error);
        // A line already blanked that still fails means the damage starts earlier.
        let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
        let target = if blanked.contains(&line_start) {
            match text[..line_start.saturating_sub(1)].rfind('\n') {
                Some(i) => i + 1,
                None if line_start > 0 => 0,
                None => break,
            }
        } else {
            line_start
        };
        if !blanked.contains(&line_start) {
            diagnostics.push(if text == source.text() {
                diagnostic
            } else {
                syntax_error_in(source.text(), &diagnostic)
            });
        }
        if offset >= text.len() || !blank_line(&mut text, target) {
            break;
        }
        blanked.push(target);
    }
    (ast::File::default(), diagnostics)
}

/// Brackets nested deeper than this are refused before parsing: the parser and the tree
/// builder recurse once per level, and a machine-generated file must not exhaust the stack.
const MAX_NESTING: usize = 256;

/// A syntax error (E0001) at the bracket that first nests deeper than [`MAX_NESTING`]
/// (comments skipped): the language has a nesting limit.
fn nesting_error(text: &str) -> Option<Diagnostic> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut comments = 0usize;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        comments += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        comments -= 1;
                        i += 2;
                        if comments == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::new(
                            Code::SYNTAX,
                            format!("brackets nest more than {MAX_NESTING} levels deep"),
                            Span::new(i, i + 1),
                            "too deep",
                        )
                        .with_help(format!("cnnc reads at most {MAX_NESTING} levels of `{{`, `(` and `[`")),
                    );
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn error_offset(error: &pest::error::Error<Rule>) -> usize {
    match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    }
}

/// The same diagnostic, with the token it shows taken from the original text.
fn syntax_error_in(original: &str, diagnostic: &Diagnostic) -> Diagnostic {
    let mut d = diagnostic.clone();
    let start = d.primary.span.start as usize;
    let found = found_token(original, start);
    d.primary.span = Span::new(start, start + found.len());
    d
}

/// Replace the line starting at `start` with spaces, keeping braces and the line break, so
/// offsets and nesting survive. Returns false if there was nothing left to blank.
fn blank_line(text: &mut String, start: usize) -> bool {
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line: String = text[start..end]
        .chars()
        .map(|c| if matches!(c, '{' | '}') { c.to_string() } else { " ".repeat(c.len_utf8()) })
        .collect();
    let changed = line != text[start..end];
    text.replace_range(start..end, &line);
    changed
}

fn syntax_error(text: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let offset = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    let mut expected: Vec<&str> = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.iter().filter_map(|r| describe(*r)).collect(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort_unstable();
    expected.dedup();
    let found = found_token(text, offset);
    let found_span = Span::new(offset, offset + found.len());
    let shown = if found.is_empty() { "the end of the file".to_string() } else { format!("`{found}`") };
    // Inside an argument list, operators are rarely what was meant: a `,` or `)` was.
    let line_start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset.min(text.len())];
    let open_parens = before.matches('(').count() > before.matches(')').count();
    let only_operators = expected.iter().all(|e| e.contains('*') || e.contains('+') || *e == "`x`");
    let message = if expected.is_empty() {
        format!("unexpected {shown}")
    } else if open_parens && only_operators {
        format!("expected `,` or `)`, found {shown}")
    } else {
        format!("expected {}, found {shown}", join_alternatives(&expected))
    };
    let label = if found.is_empty() { "the file ends here".to_string() } else { "unexpected here".to_string() };
    let mut diagnostic = Diagnostic::new(Code::SYNTAX, message, found_span, label);
    if let Some(hint) = hint_for(text, offset, found) {
        diagnostic = diagnostic.with_help(hint);
    }
    diagnostic
}

/// The token starting at `offset`: a word, a number, or one character.
fn found_token(text: &str, offset: usize) -> &str {
    let rest = text.get(offset..).unwrap_or("");
    let Some(first) = rest.chars().next() else { return "" };
    if first.is_ascii_alphanumeric() || first == '_' {
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        &rest[..end]
    } else {
        &rest[..first.len_utf8()]
    }
}

fn join_alternatives(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// A few common slips get a targeted hint.
fn hint_for(text: &str, offset: usize, found: &str) -> Option<String> {
    let before = text[..offset.min(text.len())].trim_end();
    let starts_word = found.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if starts_word && before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == ')' || c == '_') {
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = &before[line_start..];
        if line.matches('(').count() > line.matches(')').count() {
            return Some(format!("a `,` is missing before `{found}`"));
        }
    }
    if found == ":" && before.ends_with(|c: char| c.is_ascii_alphanumeric()) && !before.contains("input") {
        return Some("named arguments use `=`, as in `stride=2`".to_string());
    }
    if found.is_empty() {
        let opens = text.matches('{').count();
        let closes = text.matches('}').count();
        if opens > closes {
            return Some(format!("{} `{{` not closed: add `}}` at the end", opens - closes));
        }
    }
    None
}

/// User-facing names of grammar rules; `None` hides a rule from "expected …" lists.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "the end of the file",
        Rule::model | Rule::kw_model => "`model`",
        Rule::block | Rule::kw_block => "`block`",
        Rule::attribute | Rule::attributes => "`@allow(...)`",
        Rule::params => "`(` and the block's parameters",
        Rule::param => "a parameter",
        Rule::body => "`{`",
        Rule::statement | Rule::layer_stmt => "a statement",
        Rule::input_decl | Rule::kw_input => "`input`",
        Rule::output_decl | Rule::kw_output => "`output`",
        Rule::shape => "a shape such as `[N, 3, 224, 224]`",
        Rule::dim => "a dimension (an integer or a name)",
        Rule::stmt_name => "a name",
        Rule::from_clause | Rule::kw_from => "`from`",
        Rule::operation | Rule::call => "a layer",
        Rule::seq_group | Rule::kw_seq => "`seq`",
        Rule::group => "`{`",
        Rule::repeat => "`*`",
        Rule::args => "`(`",
        Rule::arg => "an argument",
        Rule::arg_name => "an argument name",
        Rule::value | Rule::expr | Rule::term | Rule::factor => "a value",
        Rule::pair => "a kernel size such as `3x3`",
        Rule::times => "`x`",
        Rule::tuple => "a tuple such as `(1, 2)`",
        Rule::neg => "`-`",
        Rule::add_op => "`+` or `-`",
        Rule::mul_op => "`*`, `/` or `%`",
        Rule::number | Rule::int => "a number",
        Rule::boolean | Rule::kw_true | Rule::kw_false => "`true` or `false`",
        Rule::ident => "a name",
        Rule::code_list | Rule::code => "a diagnostic code",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ast::File {
        let (file, diagnostics) = parse(&SourceFile::new("t.cnn", text));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        file
    }

    #[test]
    fn reads_statements_names_and_arguments() {
        let file = parse_ok(
            "model m { input x: [N, 3, 32, 32]\n c1 = conv(8, 3x3, stride=2, padding=(1, 2)); relu\n out = from x conv(4, k * 2 - 1) }",
        );
        let body = &file.models[0].body.statements;
        assert_eq!(body.len(), 4);
        let ast::StatementKind::Layer(layer) = &body[1].kind else { panic!("layer") };
        assert_eq!(layer.name.as_ref().unwrap().text, "c1");
        let ast::Operation::Call(call) = &layer.op else { panic!("call") };
        assert_eq!(call.args.len(), 4);
        assert!(matches!(call.args[1].value.kind, ast::ValueKind::Pair(..)));
        assert!(matches!(call.args[3].value.kind, ast::ValueKind::Tuple(ref items) if items.len() == 2));
        let ast::StatementKind::Layer(last) = &body[3].kind else { panic!("layer") };
        assert_eq!(last.from.as_ref().unwrap().text, "x");
    }

    #[test]
    fn keywords_need_a_word_boundary() {
        let file = parse_ok("model m { input x: [1, 4] models = dense(2) seq_x = relu }");
        assert_eq!(file.models[0].body.statements.len(), 3);
    }

    #[test]
    fn file_level_attributes_are_separated() {
        let file = parse_ok("@allow(W0003) block b() { relu } model m { input x: [1, 2] }");
        assert_eq!(file.attrs.len(), 1);
        assert!(file.blocks[0].attrs.is_empty());
    }

    #[test]
    fn syntax_errors_name_tokens_not_rules() {
        let (_, diagnostics) = parse(&SourceFile::new("t.cnn", "model m { conv(8, 3,, ) }"));
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code, Code::SYNTAX);
        assert!(!diagnostics[0].message.contains("expr"), "{}", diagnostics[0].message);
    }
}
