//! Tests of the formatter: idempotence and unchanged tokens on every repository file, and
//! before/after pairs for each rule.
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
    // The parser refuses nesting past its own limit first (a syntax error); the formatter's
    // limit guards its own recursion should that ever be raised.
    assert!(matches!(format(&nested(MAX_DEPTH + 10)), Err(FormatError::TooDeep | FormatError::Syntax { .. })));
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
        for round in 0..4 {
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
