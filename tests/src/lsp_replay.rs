//! Scripted editing sessions against the language server (in memory): every prefix of every
//! example file, and random single-character and single-line deletions, sent as edits. The
//! server must answer every edit, never crash, and publish exactly the diagnostics a fresh
//! `cnnc check` of the same text gives.

use cnn_check::{check_source, CheckOptions};
use cnn_diag::SourceFile;
use cnnc_tests::{cnn_files, root};
use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};

const URI: &str = "file:///replay.cnn";

struct Session {
    client: Connection,
    server: Option<std::thread::JoinHandle<()>>,
    version: i32,
}

impl Session {
    fn start() -> Session {
        let (server_side, client) = Connection::memory();
        let server = std::thread::spawn(move || {
            cnn_lsp::serve(&server_side).expect("the server runs until exit");
        });
        let init = Request::new(RequestId::from(0), "initialize".into(), json!({"capabilities": {}}));
        client.sender.send(Message::Request(init)).expect("send");
        loop {
            if let Ok(Message::Response(_)) = client.receiver.recv() {
                break;
            }
        }
        client.sender.send(Message::Notification(Notification::new("initialized".into(), json!({})))).expect("send");
        Session { client, server: Some(server), version: 0 }
    }

    /// Send the whole text as the new version; return the published diagnostics' codes and
    /// lines.
    fn edit(&mut self, text: &str) -> Vec<(String, u64)> {
        self.version += 1;
        let (method, params) = if self.version == 1 {
            (
                "textDocument/didOpen",
                json!({"textDocument": {"uri": URI, "languageId": "cnn", "version": 1, "text": text}}),
            )
        } else {
            (
                "textDocument/didChange",
                json!({"textDocument": {"uri": URI, "version": self.version}, "contentChanges": [{"text": text}]}),
            )
        };
        self.client.sender.send(Message::Notification(Notification::new(method.into(), params))).expect("send");
        loop {
            match self.client.receiver.recv_timeout(std::time::Duration::from_secs(20)).expect("the server answers") {
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    assert_eq!(n.params["version"], self.version);
                    return codes(&n.params["diagnostics"]);
                }
                _ => {}
            }
        }
    }

    fn stop(mut self) {
        let shutdown = Request::new(RequestId::from(99_999), "shutdown".into(), Value::Null);
        self.client.sender.send(Message::Request(shutdown)).expect("send");
        let _ = self.client.receiver.recv();
        self.client.sender.send(Message::Notification(Notification::new("exit".into(), Value::Null))).expect("send");
        if let Some(s) = self.server.take() {
            s.join().expect("the server thread ends cleanly")
        }
    }
}

fn codes(diagnostics: &Value) -> Vec<(String, u64)> {
    diagnostics
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            (d["code"].as_str().unwrap_or_default().to_string(), d["range"]["start"]["line"].as_u64().unwrap_or(0))
        })
        .collect()
}

fn fresh(text: &str) -> Vec<(String, u64)> {
    let source = SourceFile::new(URI, text);
    let result = check_source(&source, &CheckOptions { verify_fixes: true, ..CheckOptions::default() });
    result
        .diagnostics
        .iter()
        .map(|d| (d.code.to_string(), source.line_col(d.primary.span.start as usize).line as u64))
        .collect()
}

fn texts() -> Vec<String> {
    let mut files = cnn_files(&root().join("examples"));
    files.extend(cnn_files(&root().join("tests/ui")));
    files.iter().map(|f| std::fs::read_to_string(f).expect("readable")).collect()
}

#[test]
fn every_prefix_matches_a_fresh_check() {
    let mut session = Session::start();
    let mut edits = 0;
    for text in texts() {
        // Every line end, and a stride of characters in between (debug builds are slow).
        let bounds: Vec<usize> =
            text.char_indices().map(|(i, _)| i).filter(|i| text.as_bytes()[*i] == b'\n' || i % 97 == 0).collect();
        for end in bounds {
            let prefix = &text[..end];
            assert_eq!(session.edit(prefix), fresh(prefix), "prefix of {} bytes", end);
            edits += 1;
        }
    }
    session.stop();
    assert!(edits > 500, "{edits} edits");
}

#[test]
fn random_deletions_match_a_fresh_check() {
    let mut session = Session::start();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound.max(1) as u64) as usize
    };
    for text in texts() {
        for _ in 0..25 {
            let mut edited = text.clone();
            if next(2) == 0 {
                let mut at = next(edited.len());
                while !edited.is_char_boundary(at) {
                    at -= 1;
                }
                if at < edited.len() {
                    edited.remove(at);
                }
            } else {
                let lines: Vec<&str> = text.lines().collect();
                let drop = next(lines.len());
                edited = lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != drop)
                    .map(|(_, l)| *l)
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            assert_eq!(session.edit(&edited), fresh(&edited));
        }
    }
    session.stop();
}
