"""ONNX's own backend node tests for the operators cnnc imports, through `cnnc import` + `cnnc run`.

The cases come from the `onnx` package's generators (onnx.backend.test.case.node), regenerated
here rather than read from files. For each case of a supported operator:

1. Inputs that are a layer's parameters in cnnc (Conv's W and B, BatchNormalization's scale, B,
   mean and var, Gemm's B and C, MatMul's B, Clip's min and max, Reshape's shape, Dropout's
   ratio and training_mode) become initialisers with the test's values: cnnc layers read
   weights from a file, not from model inputs. The function computed is the same.
2. `cnnc import` translates the model. If it refuses, the case is skipped with cnnc's reason
   (the error names the node and why).
3. `cnnc run` runs it on the test's other inputs, and the first output is compared with the
   test's expected output at ONNX Runtime's tolerance, rtol 1e-3 and atol 1e-5.

`--write` rewrites the pass list and skip reasons in docs/ONNX.md; `--check` (CI) fails when a
case in the committed pass list does not pass, or when any imported case gives wrong numbers.
"""

import argparse
import pathlib
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.backend.test.case.node import collect_testcases

OPS = [
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "Relu", "LeakyRelu", "Clip",
    "Sigmoid", "Tanh", "BatchNormalization", "Gemm", "MatMul", "Flatten", "Reshape", "Add", "Concat",
    "Softmax", "Dropout", "Identity", "Constant", "ConstantOfShape",
]
PARAMS = {
    "Conv": [1, 2], "BatchNormalization": [1, 2, 3, 4], "Gemm": [1, 2], "MatMul": [1], "Clip": [1, 2],
    "Reshape": [1], "Dropout": [1, 2],
}
# Case names start with the operator's name (`test_conv_...`, `test_training_dropout_...`).
PREFIXES = ("conv", "basic_conv", "maxpool", "averagepool", "globalaveragepool", "globalmaxpool", "relu", "leakyrelu",
            "clip", "sigmoid", "tanh", "batchnorm", "gemm", "matmul", "flatten", "reshape", "add", "concat", "softmax",
            "dropout", "training_dropout", "identity", "constant")
BEGIN, END = "<!-- node-tests:begin -->", "<!-- node-tests:end -->"


def cases():
    """(name, case) for every case of a supported operator, except the `_expanded` variants (the
    operator's function body written out in other operators)."""
    seen = {}
    with warnings.catch_warnings():  # the generators of other operators overflow on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        all_cases = collect_testcases()
    for case in all_cases:
        ops = {n.op_type for n in case.model.graph.node}
        named = case.name.startswith(tuple(f"test_{p}" for p in PREFIXES))
        if "_expanded" in case.name or not ops & set(OPS) or not named:
            continue
        seen.setdefault(case.name, case)
    return sorted(seen.items())


def bake_parameters(model, inputs):
    """Move parameter inputs to initialisers; return the model and the remaining inputs."""
    graph = model.graph
    if len(graph.node) != 1 or graph.node[0].op_type not in PARAMS:
        return model, list(inputs)
    node = graph.node[0]
    baked = {node.input[i] for i in PARAMS[node.op_type] if i < len(node.input) and node.input[i]}
    remaining = []
    keep = []
    for info, value in zip(graph.input, inputs):
        if info.name in baked:
            graph.initializer.append(numpy_helper.from_array(np.asarray(value), info.name))
        else:
            keep.append(info)
            remaining.append(value)
    del graph.input[:]
    graph.input.extend(keep)
    return model, remaining


def reason_of(stderr):
    lines = [l.strip() for l in stderr.strip().splitlines() if l.strip()]
    detail = [l.lstrip("- ") for l in lines[1:]] or lines[:1]
    text = "; ".join(detail) if detail else "(no message)"
    return re.sub(r"`[^`]*\.onnx`: ", "", text)[:200]


def run_case(cnnc, case, work):
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, outputs = case.data_sets[0]
    model, inputs = bake_parameters(model, inputs)
    path = work / "model.onnx"
    path.write_bytes(model.SerializeToString())
    done = subprocess.run([cnnc, "import", path, "-o", work / "m.cnn", "--weights-out", work / "w.safetensors"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return "skip", reason_of(done.stderr)
    files = []
    for i, value in enumerate(inputs):
        value = np.asarray(value)
        if value.dtype != np.float32:
            return "skip", f"input {i} is {value.dtype}; cnnc runs float32 tensors"
        np.save(work / f"in{i}.npy", value)
        files.append(work / f"in{i}.npy")
    done = subprocess.run([cnnc, "run", work / "m.cnn", "--weights", work / "w.safetensors", "--input", *files,
                           "--output", work / "y.npy", "--top", "0"], capture_output=True, text=True)
    if done.returncode != 0:
        return "fail", "cnnc run failed: " + reason_of(done.stderr)
    ours = np.load(work / "y.npy")
    expected = np.asarray(outputs[0])
    if ours.shape != expected.shape:
        return "fail", f"output shape {ours.shape}, expected {expected.shape}"
    if not np.allclose(ours, expected, rtol=1e-3, atol=1e-5):
        return "fail", f"max |difference| {float(np.abs(ours - expected).max()):.3g}"
    return "pass", ""


def render(results):
    passed = [n for n, (s, _) in results if s == "pass"]
    failed = [(n, r) for n, (s, r) in results if s == "fail"]
    skipped = [(n, r) for n, (s, r) in results if s == "skip"]
    lines = [BEGIN, "",
             f"{len(results)} cases (onnx {onnx.__version__}): {len(passed)} pass, {len(skipped)} skipped, "
             f"{len(failed)} fail.", "", "Passing:", ""]
    lines += [f"- `{n}`" for n in passed]
    if failed:
        lines += ["", "Failing (imported, but the numbers differ):", ""]
        lines += [f"- `{n}`: {r}" for n, r in failed]
    lines += ["", "Skipped, with `cnnc import`'s reason:", "", "| case | reason |", "|---|---|"]
    lines += [f"| `{n}` | {r.replace('|', '/')} |" for n, r in skipped]
    lines += ["", END]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cnnc", required=True)
    parser.add_argument("--doc", required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in cases():
            try:
                result = run_case(args.cnnc, case, pathlib.Path(tmp))
            except Exception as e:  # a crash in the harness is a failure of that case
                result = ("fail", f"harness error: {e}")
            results.append((name, result))
            print(f"{result[0]:4} {name} {result[1]}")
    doc = pathlib.Path(args.doc)
    text = doc.read_text()
    if args.write:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        doc.write_text(text[:start] + render(results) + text[end:])
        print(f"wrote the node-test results into {doc}")
        return
    section = text[text.index(BEGIN):text.index(END)]
    committed = re.findall(r"^- `(test_[^`]+)`$", section.split("Failing")[0].split("Skipped")[0], re.M)
    status = dict(results)
    broken = [n for n in committed if status.get(n, ("missing", ""))[0] != "pass"]
    wrong = [n for n, (s, _) in results if s == "fail" and n not in section]
    passed = sum(1 for _, (s, _) in results if s == "pass")
    print(f"{passed} pass of {len(results)}; the committed list has {len(committed)}")
    if broken or wrong:
        for n in broken:
            print(f"no longer passes: {n}: {status.get(n)}")
        for n in wrong:
            print(f"newly imported with wrong numbers: {n}: {status[n][1]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
