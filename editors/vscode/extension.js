// The cnnc extension for VS Code: starts `cnnc lsp` for `.cnn` files and talks to it over stdio.
// Plain CommonJS with no build step; the language server does all the work.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const vscode = require('vscode');
const { CloseAction, ErrorAction, LanguageClient } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel | undefined} */
let outputChannel;
/** Starts and stops run one after another, so a restart never overlaps a start. */
let queue = Promise.resolve();

/**
 * @param {() => Promise<void>} task
 * @returns {Promise<void>}
 */
function enqueue(task) {
  queue = queue.then(task, task);
  return queue;
}

/**
 * Finds the executable `setting` names: an absolute path, a path relative to the first
 * workspace folder (`target/release/cnnc`), or a command on PATH. For the default `cnnc`, also
 * Cargo's bin directory, which VS Code's PATH lacks when it is not started from a shell.
 * Returns the path to start, or undefined when there is nothing executable there.
 * @param {string} setting
 * @returns {string | undefined}
 */
function resolveExecutable(setting) {
  let command = setting.trim();
  if (command === '~' || command.startsWith('~/') || command.startsWith('~\\')) {
    command = path.join(os.homedir(), command.slice(1));
  }
  const exeNames = (base) => {
    if (process.platform !== 'win32' || path.extname(base) !== '') {
      return [base];
    }
    const extensions = (process.env.PATHEXT || '.EXE;.CMD;.BAT;.COM').split(';').filter(Boolean);
    return [base, ...extensions.map((ext) => base + ext.toLowerCase())];
  };
  const firstExecutable = (candidates) => candidates.find((candidate) => isExecutableFile(candidate));

  if (path.isAbsolute(command)) {
    return firstExecutable(exeNames(command));
  }
  if (command.includes('/') || command.includes('\\')) {
    const folders = vscode.workspace.workspaceFolders || [];
    const bases = folders.filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
    for (const base of bases.length > 0 ? bases : [process.cwd()]) {
      const found = firstExecutable(exeNames(path.resolve(base, command)));
      if (found) {
        return found;
      }
    }
    return undefined;
  }
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  if (command === 'cnnc') {
    dirs.push(path.join(process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'), 'bin'));
  }
  for (const dir of dirs) {
    const found = firstExecutable(exeNames(path.join(dir, command)));
    if (found) {
      return found;
    }
  }
  return undefined;
}

/** @param {string} file */
function isExecutableFile(file) {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    fs.accessSync(file, process.platform === 'win32' ? fs.constants.F_OK : fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Shows an error with buttons to open the `cnnc.path` setting and the server's log.
 * Not awaited by callers: the promise settles only when the user dismisses the message.
 * @param {string} message
 */
async function showStartError(message) {
  const openSettings = 'Open Settings';
  const showOutput = 'Show Output';
  const choice = await vscode.window.showErrorMessage(message, openSettings, showOutput);
  if (choice === openSettings) {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'cnnc.path');
  } else if (choice === showOutput && outputChannel) {
    outputChannel.show(true);
  }
}

async function startClient() {
  const setting = vscode.workspace.getConfiguration('cnnc').get('path', 'cnnc') || 'cnnc';
  const command = resolveExecutable(setting);
  if (command === undefined) {
    const where =
      setting === 'cnnc'
        ? '`cnnc` is not on PATH (nor in ~/.cargo/bin)'
        : `\`${setting}\` (the \`cnnc.path\` setting) is not an executable file`;
    void showStartError(
      `cnnc: cannot start the language server: ${where}. ` +
        'Install cnnc with `cargo install --path crates/cnnc` from its repository, ' +
        'or set `cnnc.path` to the `cnnc` executable.',
    );
    return;
  }

  // No `transport`: the server speaks over stdio either way, and `TransportKind.stdio` would make
  // the client append `--stdio` to the arguments; the server is started as exactly `cnnc lsp`.
  const executable = { command, args: ['lsp'] };
  /** @type {import('vscode-languageclient/node').ServerOptions} */
  const serverOptions = { run: executable, debug: executable };
  // Until the server has started, failures are reported once, by the catch below; after that the
  // client's default handling applies (restart a crashed server, up to 4 times in 3 minutes).
  let started = false;
  /** @type {import('vscode-languageclient/node').ErrorHandler | undefined} */
  let defaultHandler;
  const fallback = () => (defaultHandler ??= languageClient.createDefaultErrorHandler());
  /** @type {import('vscode-languageclient/node').LanguageClientOptions} */
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'cnn' }],
    outputChannel,
    errorHandler: {
      error: (error, message, count) =>
        started ? fallback().error(error, message, count) : { action: ErrorAction.Shutdown, handled: true },
      closed: () => (started ? fallback().closed() : { action: CloseAction.DoNotRestart, handled: true }),
    },
    // Report a failed `initialize` once, below, instead of in a second notification.
    initializationFailedHandler: (error) => {
      outputChannel?.appendLine(`The language server failed to initialize: ${error}`);
      return false;
    },
  };

  // The id `cnnc` makes the client read the `cnnc.trace.server` setting by itself.
  const languageClient = new LanguageClient('cnnc', 'cnnc Language Server', serverOptions, clientOptions);
  client = languageClient;
  try {
    await languageClient.start();
    started = true;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    client = undefined;
    try {
      await languageClient.dispose();
    } catch {
      // It never ran; there is nothing to shut down.
    }
    void showStartError(
      `cnnc: the language server \`${command} lsp\` did not start (${reason}). ` +
        'Check that this cnnc is recent enough to have the `lsp` command (`cnnc lsp --help`), ' +
        'or point `cnnc.path` at one that does.',
    );
  }
}

async function stopClient() {
  if (!client) {
    return;
  }
  const running = client;
  client = undefined;
  try {
    await running.dispose();
  } catch (error) {
    if (outputChannel) {
      outputChannel.appendLine(`Stopping the language server failed: ${error}`);
    }
  }
}

function restartClient() {
  return enqueue(async () => {
    await stopClient();
    await startClient();
  });
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  // One output channel for every client this session starts, so restarts keep one log.
  outputChannel = vscode.window.createOutputChannel('cnnc Language Server');
  context.subscriptions.push(outputChannel);
  context.subscriptions.push(vscode.commands.registerCommand('cnnc.restartServer', restartClient));
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('cnnc.path')) {
        void restartClient();
      }
    }),
  );
  await enqueue(startClient);
}

function deactivate() {
  return enqueue(stopClient);
}

module.exports = { activate, deactivate };
