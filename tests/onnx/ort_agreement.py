"""Export every example with cnnc, run it in ONNX Runtime and with `cnnc run`, compare.

Expected outputs come from ONNX Runtime (an independent engine); cnnc's reference backend must
agree within max|y - e| <= 1e-4 * max(1, max|e|). Weights are cnnc's seeded default
initialisation, exported as initialisers, so both engines see the same numbers. Small models run
at batch 2, which also checks that the symbolic batch became an ONNX dim_param.
"""

import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-4


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{done.stderr}")


def check(cnnc, model, work):
    onnx_path = work / f"{model.stem}.onnx"
    run([cnnc, "export", model, "--onnx", onnx_path])
    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto, full_check=True)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    # Batch 2 checks the symbolic batch; ImageNet-sized models run at batch 1 to keep CI short.
    batch = 2 if all(d.dim_value <= 64 for d in dims[2:]) else 1
    shape = [d.dim_value if d.HasField("dim_value") else batch for d in dims]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.save(work / "x.npy", x)
    run([cnnc, "run", model, "--input", work / "x.npy", "--output", work / "y.npy", "--top", "0"])
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    ours = np.load(work / "y.npy")
    if ours.shape != expected.shape:
        return float("inf"), f"shape {ours.shape} vs ONNX Runtime's {expected.shape}"
    error = float(np.abs(ours - expected).max() / max(1.0, float(np.abs(expected).max())))
    return error, f"batch {shape[0]}, output {list(expected.shape)}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cnnc", required=True)
    parser.add_argument("--root", required=True)
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    models = sorted(root.glob("examples/*.cnn")) + sorted(root.glob("examples/bench/*.cnn"))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            name = str(model.relative_to(root))
            try:
                error, note = check(args.cnnc, model, pathlib.Path(tmp))
            except Exception as e:  # a failed export or run is a failure, reported with the rest
                error, note = float("inf"), str(e).strip()
            verdict = "ok  " if error <= TOLERANCE else "FAIL"
            print(f"{verdict} {name:40} relative error {error:.2e}  ({note})")
            if error > TOLERANCE:
                failures.append(name)
    if failures:
        print(f"{len(failures)} of {len(models)} models disagree with ONNX Runtime: {', '.join(failures)}")
        sys.exit(1)
    print(f"all {len(models)} examples agree with ONNX Runtime within {TOLERANCE:g}")


if __name__ == "__main__":
    main()
