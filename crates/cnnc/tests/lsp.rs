//! The language server end to end: the real `cnnc lsp` binary, spoken to over pipes in
//! JSON-RPC, as an editor would. The responses are snapshotted.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

struct Client {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next_id: i64,
}

impl Client {
    fn start() -> (std::process::Child, Client) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cnnc"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cnnc lsp starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        (child, Client { stdin, stdout, next_id: 1 })
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn receive(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.stdout.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length: ") {
                length = value.parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.stdout.read_exact(&mut body).expect("body");
        serde_json::from_slice(&body).expect("json")
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let message = self.receive();
            if message["id"] == id {
                return message;
            }
        }
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn diagnostics(&mut self) -> Value {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics" {
                return message["params"].clone();
            }
        }
    }
}

const URI: &str = "file:///work/lenet.cnn";

/// LeNet-5 without conv1's padding: the flatten gives 256 features, fc1 expects 400.
const BROKEN: &str = "// LeNet-5 — the first conv lost its padding (𝔸 is two UTF-16 units)
model lenet {
  input x: [N, 1, 28, 28]
  conv1 = conv(6, 5)
  relu
  maxpool(2)
  conv2 = conv(16, 5)
  relu
  maxpool(2)
  flatten
  fc1 = dense(120, in=400)
  fc2 = dense(10)
}
";

fn start(encodings: &[&str]) -> (std::process::Child, Client) {
    let (child, mut client) = Client::start();
    let init = client.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {"general": {"positionEncodings": encodings}}}),
    );
    assert!(
        init["result"]["capabilities"]["inlayHintProvider"].as_bool().unwrap_or(false)
            || init["result"]["capabilities"]["inlayHintProvider"].is_object()
    );
    client.notify("initialized", json!({}));
    (child, client)
}

fn position(line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": URI}, "position": {"line": line, "character": character}})
}

#[test]
fn an_editing_session() {
    let (mut child, mut client) = start(&["utf-16"]);
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": URI, "languageId": "cnn", "version": 1, "text": BROKEN}}),
    );
    let published = client.diagnostics();
    assert_eq!(published["diagnostics"][0]["code"], "E0107", "{published}");
    insta::assert_json_snapshot!("lsp_diagnostics", published);

    let hints = client.request("textDocument/inlayHint", json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 0, "character": 0}, "end": {"line": 20, "character": 0}}}));
    let labels: Vec<String> = hints["result"]
        .as_array()
        .expect("hints")
        .iter()
        .map(|h| h["label"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(labels.iter().any(|l| l.starts_with("→ [N, 6, 24, 24]")), "{labels:?}");
    insta::assert_json_snapshot!("lsp_inlay_hints", hints["result"]);

    let hover = client.request("textDocument/hover", position(3, 12));
    let text = hover["result"]["contents"]["value"].as_str().expect("hover text").to_string();
    assert!(text.contains("⌊(28 + 0 − 5)/1⌋ + 1 = 24") && text.contains("6·(5·5·1 + 1) = 156"), "{text}");
    insta::assert_snapshot!("lsp_hover_conv1", text);

    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 10, "character": 22}, "end": {"line": 10, "character": 22}}, "context": {"diagnostics": []}}),
    );
    let fix = actions["result"]
        .as_array()
        .expect("actions")
        .iter()
        .find(|a| a["title"].as_str().is_some_and(|t| t.contains("padding=2")))
        .expect("the verified padding fix is offered")
        .clone();
    insta::assert_json_snapshot!("lsp_code_actions", actions["result"]);

    // Apply the fix as an editor would, and see the error go.
    let edit = &fix["edit"]["changes"][URI][0];
    let fixed = apply(BROKEN, edit);
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": fixed}]}),
    );
    let published = client.diagnostics();
    assert_eq!(published["diagnostics"], json!([]), "{published}");

    let refactorings = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": {"start": {"line": 3, "character": 4}, "end": {"line": 3, "character": 4}}, "context": {"diagnostics": []}}),
    );
    let titles: Vec<&str> =
        refactorings["result"].as_array().expect("actions").iter().filter_map(|a| a["title"].as_str()).collect();
    // Both rewrites keep the model's receptive field; on a one-channel input they cost more
    // parameters, not fewer (the saving needs as many input channels as output channels), and
    // the preview says so.
    assert!(
        titles.iter().any(|t| t.starts_with("Split the 5×5 convolution into two 3×3") && t.contains("unchanged")),
        "{titles:?}"
    );
    assert!(titles.iter().any(|t| t.starts_with("Factorise the 5×5 convolution into 5×1 then 1×5")), "{titles:?}");
    insta::assert_json_snapshot!("lsp_refactorings", refactorings["result"]);

    let definition = client.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": URI}, "position": {"line": 10, "character": 3}}),
    );
    assert_eq!(definition["result"]["range"]["start"]["line"], 10);
    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": URI}}));
    assert_eq!(symbols["result"][0]["name"], "lenet");
    let completion = client.request("textDocument/completion", position(6, 20));
    let labels: Vec<&str> =
        completion["result"].as_array().expect("items").iter().filter_map(|i| i["label"].as_str()).collect();
    assert!(labels.contains(&"stride=") && labels.contains(&"padding="), "{labels:?}");
    let messy = "model  m{\ninput x:[1,1,8,8]\n      conv(1,3,stride=2)   // kept\n}\n";
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 3}, "contentChanges": [{"text": messy}]}),
    );
    client.diagnostics();
    let formatting = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    let formatted = formatting["result"][0]["newText"].as_str().expect("one edit with the whole text");
    // The trailing comment keeps its column, shifted by the change of indentation.
    assert_eq!(formatted, "model m {\n  input x: [1, 1, 8, 8]\n  conv(1, 3, stride=2) // kept\n}\n");
    let unknown = client.request("workspace/symbol", json!({"query": ""}));
    assert!(unknown["error"].is_object(), "unknown requests get an error, and the server goes on");

    client.request("shutdown", json!(null));
    client.notify("exit", json!(null));
    assert!(child.wait().expect("exits").success());
}

#[test]
fn positions_follow_the_negotiated_encoding() {
    // The E0101 sits on the `9`, after `𝔸`: 4 bytes in UTF-8 but 2 units in UTF-16.
    let text = "model m { input x: [1, 1, 8, 8] /* 𝔸 */ conv(1, 9) }\n";
    for (encoding, expected) in [("utf-8", 51), ("utf-16", 49)] {
        let (mut child, mut client) = start(&[encoding]);
        client.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": URI, "languageId": "cnn", "version": 1, "text": text}}),
        );
        let published = client.diagnostics();
        let start = &published["diagnostics"][0]["range"]["start"];
        assert_eq!(start["character"], expected, "{encoding}: {published}");
        client.request("shutdown", json!(null));
        client.notify("exit", json!(null));
        child.wait().expect("exits");
    }
}

/// Apply one LSP text edit (UTF-16 positions; the test text's edits are on ASCII lines).
fn apply(text: &str, edit: &Value) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().expect("line") as usize;
        let character = p["character"].as_u64().expect("character") as usize;
        text.split_inclusive('\n').take(line).map(str::len).sum::<usize>() + character
    };
    let (start, end) = (offset(&edit["range"]["start"]), offset(&edit["range"]["end"]));
    format!("{}{}{}", &text[..start], edit["newText"].as_str().expect("text"), &text[end..])
}
