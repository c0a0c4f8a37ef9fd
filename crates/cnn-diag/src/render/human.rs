//! Terminal rendering with miette: the message and code, the source with the primary and
//! secondary labels, then the notes (the arithmetic), the help line and the verified fixes.
//!
//! Colour is the caller's decision (the CLI turns it off when stdout is not a terminal or
//! `NO_COLOR` is set); snapshots use `color: false` and a fixed width so they are stable.

use crate::{Diagnostic, Severity, SourceFile};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use std::fmt;

#[derive(Clone, Copy, Debug)]
pub struct HumanOptions {
    pub color: bool,
    pub width: usize,
}

/// Render one diagnostic against its source file.
pub fn render_human(diagnostic: &Diagnostic, file: &SourceFile, options: HumanOptions) -> String {
    let theme = if options.color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false)
        .with_context_lines(1)
        .without_syntax_highlighting();
    let report = MietteView { diagnostic, file, named: miette::NamedSource::new(file.name(), file.text().to_string()) };
    // miette 7.6 panics on labels beyond column 65,535 (it counts columns in u16); a source
    // line that long is real input here (generated files), so such diagnostics are rendered
    // plainly, and any other panic inside miette falls back the same way.
    let too_wide = std::iter::once(&diagnostic.primary).chain(&diagnostic.secondary).any(|l| {
        file.line_col(l.span.start as usize).byte > 60_000 || file.line_col(l.span.end as usize).byte > 60_000
    });
    let rendered = if too_wide {
        None
    } else {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut out = String::new();
            handler.render_report(&mut out, &report).ok().map(|()| out)
        }))
        .ok()
        .flatten()
    };
    let mut out = rendered.unwrap_or_else(|| plain(diagnostic, file));
    while out.ends_with('\n') {
        out.pop();
    }
    out.push('\n');
    for note in &diagnostic.notes {
        push_indented(&mut out, "  = note: ", note);
    }
    if let Some(help) = &diagnostic.help {
        push_indented(&mut out, "  help: ", help);
    }
    for fix in &diagnostic.fixes {
        push_indented(&mut out, "  fix: ", &fix.title);
    }
    out
}

fn push_indented(out: &mut String, head: &str, text: &str) {
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(head);
        } else {
            out.push_str(&" ".repeat(head.chars().count()));
        }
        out.push_str(line);
        out.push('\n');
    }
}

/// Adapter presenting our diagnostic through miette's trait, borrowing the source.
struct MietteView<'a> {
    diagnostic: &'a Diagnostic,
    file: &'a SourceFile,
    named: miette::NamedSource<String>,
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.named as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.file.text().len();
        let clamp = move |span: crate::Span| -> SourceSpan {
            let start = (span.start as usize).min(len);
            let end = (span.end as usize).clamp(start, len);
            (start, end - start).into()
        };
        let primary = &self.diagnostic.primary;
        let labels = std::iter::once(LabeledSpan::new_primary_with_span(
            Some(primary.message.clone()).filter(|m| !m.is_empty()),
            clamp(primary.span),
        ))
        .chain(self.diagnostic.secondary.iter().map(move |label| {
            LabeledSpan::new_with_span(Some(label.message.clone()).filter(|m| !m.is_empty()), clamp(label.span))
        }));
        Some(Box::new(labels))
    }
}

/// `file:line:column: error[E0101]: message` and the labels, without a source excerpt.
fn plain(diagnostic: &Diagnostic, file: &SourceFile) -> String {
    let at = |span: crate::Span| {
        let pos = file.line_col(span.start as usize);
        format!("{}:{}:{}", file.name(), pos.line + 1, pos.byte + 1)
    };
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{}: {severity}[{}]: {}\n", at(diagnostic.primary.span), diagnostic.code, diagnostic.message);
    for label in std::iter::once(&diagnostic.primary).chain(&diagnostic.secondary) {
        if !label.message.is_empty() {
            out.push_str(&format!("  {}: {}\n", at(label.span), label.message));
        }
    }
    out
}
