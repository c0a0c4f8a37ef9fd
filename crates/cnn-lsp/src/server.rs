//! The server loop: initialisation (capabilities and position encoding), document
//! synchronisation, and dispatch of requests to their handlers, each isolated so that a panic
//! is answered with an error instead of ending the server.

use crate::document::Document;
use crate::position::Encoding;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self as notif, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::*;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Serve on stdin and stdout until the client says `exit`.
pub fn run_stdio() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (connection, threads) = Connection::stdio();
    serve(&connection)?;
    drop(connection);
    threads.join()?;
    Ok(())
}

/// Serve on any connection (the tests use an in-memory one).
pub fn serve(connection: &Connection) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let offers_utf8 = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|list| list.contains(&PositionEncodingKind::UTF8));
    let encoding = if offers_utf8 { Encoding::Utf8 } else { Encoding::Utf16 };
    let result = InitializeResult {
        capabilities: capabilities(encoding),
        server_info: Some(ServerInfo {
            name: "cnnc".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = Server { connection, encoding, documents: HashMap::new() };
    for message in &connection.receiver {
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request)? {
                    return Ok(());
                }
                let response = server.request(request);
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(notification) => server.notification(notification)?,
            Message::Response(_) => {}
        }
    }
    Ok(())
}

fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        inlay_hint_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string(), " ".to_string()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

struct Server<'c> {
    connection: &'c Connection,
    encoding: Encoding,
    documents: HashMap<String, Document>,
}

impl Server<'_> {
    fn notification(&mut self, notification: Notification) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let uri = match notification.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                let params: DidOpenTextDocumentParams = serde_json::from_value(notification.params)?;
                let doc = params.text_document;
                self.open(doc.uri.clone(), doc.version, doc.text);
                doc.uri
            }
            notif::DidChangeTextDocument::METHOD => {
                let params: DidChangeTextDocumentParams = serde_json::from_value(notification.params)?;
                // Full synchronisation: the last change holds the whole text.
                let Some(change) = params.content_changes.into_iter().last() else { return Ok(()) };
                self.open(params.text_document.uri.clone(), params.text_document.version, change.text);
                params.text_document.uri
            }
            notif::DidCloseTextDocument::METHOD => {
                let params: DidCloseTextDocumentParams = serde_json::from_value(notification.params)?;
                self.documents.remove(params.text_document.uri.as_str());
                self.publish(params.text_document.uri, Vec::new(), None)?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        let diagnostics = self.documents.get(uri.as_str()).map(|d| (d.lsp_diagnostics(self.encoding), d.version));
        if let Some((diagnostics, version)) = diagnostics {
            self.publish(uri, diagnostics, Some(version))?;
        }
        Ok(())
    }

    fn open(&mut self, uri: Uri, version: i32, text: String) {
        // A panic while checking (a bug) must not take the server down: keep the old result.
        let key = uri.as_str().to_string();
        match catch_unwind(AssertUnwindSafe(|| Document::new(uri, version, text))) {
            Ok(document) => {
                self.documents.insert(key, document);
            }
            Err(_) => eprintln!("cnnc lsp: checking {key} panicked; keeping the previous result"),
        }
    }

    fn publish(
        &self,
        uri: Uri,
        diagnostics: Vec<Diagnostic>,
        version: Option<i32>,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let params = PublishDiagnosticsParams { uri, diagnostics, version };
        let notification = Notification::new(notif::PublishDiagnostics::METHOD.to_string(), params);
        self.connection.sender.send(Message::Notification(notification))?;
        Ok(())
    }

    fn request(&self, request: Request) -> Response {
        let id = request.id.clone();
        let method = request.method.clone();
        match catch_unwind(AssertUnwindSafe(|| self.dispatch(request))) {
            Ok(Ok(value)) => Response { id, result: Some(value), error: None },
            Ok(Err(message)) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
            Err(_) => {
                eprintln!("cnnc lsp: the {method} handler panicked");
                Response::new_err(id, ErrorCode::InternalError as i32, format!("cnnc lsp: {method} failed (a bug)"))
            }
        }
    }

    fn dispatch(&self, request: Request) -> Result<serde_json::Value, String> {
        let enc = self.encoding;
        let json = |v: serde_json::Result<serde_json::Value>| v.map_err(|e| e.to_string());
        macro_rules! handle {
            ($params:ty, $f:expr) => {{
                let params: $params = serde_json::from_value(request.params).map_err(|e| e.to_string())?;
                json(serde_json::to_value($f(params)))
            }};
        }
        let doc = |uri: &Uri| self.documents.get(uri.as_str());
        match request.method.as_str() {
            req::HoverRequest::METHOD => handle!(HoverParams, |p: HoverParams| {
                let at = p.text_document_position_params;
                doc(&at.text_document.uri).and_then(|d| crate::hover::hover(d, enc, at.position))
            }),
            req::InlayHintRequest::METHOD => handle!(InlayHintParams, |p: InlayHintParams| {
                doc(&p.text_document.uri).map(|d| crate::inlay::hints(d, enc, p.range)).unwrap_or_default()
            }),
            req::CodeActionRequest::METHOD => handle!(CodeActionParams, |p: CodeActionParams| {
                doc(&p.text_document.uri).map(|d| crate::actions::actions(d, enc, p.range)).unwrap_or_default()
            }),
            req::GotoDefinition::METHOD => handle!(GotoDefinitionParams, |p: GotoDefinitionParams| {
                let at = p.text_document_position_params;
                doc(&at.text_document.uri).and_then(|d| crate::navigation::definition(d, enc, at.position))
            }),
            req::References::METHOD => handle!(ReferenceParams, |p: ReferenceParams| {
                let at = p.text_document_position;
                doc(&at.text_document.uri)
                    .map(|d| crate::navigation::references(d, enc, at.position))
                    .unwrap_or_default()
            }),
            req::DocumentSymbolRequest::METHOD => handle!(DocumentSymbolParams, |p: DocumentSymbolParams| {
                doc(&p.text_document.uri).map(|d| crate::navigation::symbols(d, enc))
            }),
            req::Completion::METHOD => handle!(CompletionParams, |p: CompletionParams| {
                let at = p.text_document_position;
                doc(&at.text_document.uri).map(|d| crate::completion::complete(d, enc, at.position))
            }),
            req::Formatting::METHOD => handle!(DocumentFormattingParams, |p: DocumentFormattingParams| {
                doc(&p.text_document.uri).and_then(|d| crate::navigation::format(d, enc))
            }),
            other => Err(format!("cnnc lsp does not handle {other}")),
        }
    }
}
