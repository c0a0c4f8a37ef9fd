#!/usr/bin/env python3
"""Per-operator test fixtures for `cnnc run`, with expected outputs from PyTorch.

Writes one folder per case under OUT (default tests/fixtures/ops/):

  model.cnn            the network in cnnc's language; its input is called `x`
  weights.safetensors  the torch module's state_dict (without num_batches_tracked), float32:
                       exactly the keys the .cnn layer names imply; a case without weights gets a
                       file with no tensors, which cnnc must accept
  input.npy            float32, NCHW or [N, F], seeded
  expected.npy         float32: the output of torch.nn modules / torch.nn.functional computed in
                       float64 from the float32 weights and input, then rounded once to float32
  about.txt            one line: the torch calls that produced expected.npy

and OUT/README.md listing the cases. Everything is seeded per case (crc32 of the case name), so
the files are the same on every run and adding a case changes no other case.

Run with a Python that has torch, numpy and safetensors (paths default to this repository's):

  /tmp/tv/bin/python tools/make_op_fixtures.py                 # writes tests/fixtures/ops/
  /tmp/tv/bin/python tools/make_op_fixtures.py --cnnc target/debug/cnnc

With --cnnc (the default is target/debug/cnnc when it exists; `--cnnc none` skips it), every
model.cnn is also checked with `cnnc check --format json` and the run fails unless cnnc exits 0,
its output shape equals the torch output's shape, its weight keys and shapes equal the
state_dict's, and its parameter and buffer counts equal torch's.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.numpy import save_file

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)
# padding='same' with an even kernel: torch warns that it pads a copy of the input, which is what we want
warnings.filterwarnings("ignore", message="Using padding='same'")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------------------
# torch building blocks
# ---------------------------------------------------------------------------
class Net(nn.Module):
    """Named submodules (the state_dict prefixes) and a forward function."""

    def __init__(self, fwd=None, **mods):
        super().__init__()
        self._fwd = fwd
        for k, v in mods.items():
            self.add_module(k, v)

    def forward(self, x):
        return self._fwd(self, x)


class Basic(nn.Module):
    """torchvision's BasicBlock (with an optional downsample)."""

    def __init__(self, cin, cout, stride=1, downsample=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if downsample:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        else:
            self.downsample = None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


BLUR_TAPS = {1: [1], 2: [1, 1], 3: [1, 2, 1], 4: [1, 3, 3, 1], 5: [1, 4, 6, 4, 1],
             6: [1, 5, 10, 10, 5, 1], 7: [1, 6, 15, 20, 15, 6, 1]}


def blurpool(x, stride=2, filt=3):
    """antialiased-cnns' BlurPool(C, pad_type='reflect', filt_size=filt, stride=stride).forward"""
    pad = [(filt - 1) // 2, math.ceil((filt - 1) / 2)] * 2   # [left, right, top, bottom]
    if filt == 1:
        if pad[0] == 0:
            return x[:, :, ::stride, ::stride]
    a = torch.tensor(BLUR_TAPS[filt], dtype=x.dtype)
    f = a[:, None] * a[None, :]
    f = f / f.sum()
    c = x.shape[1]
    return F.conv2d(F.pad(x, pad, mode="reflect"), f[None, None].repeat(c, 1, 1, 1), stride=stride, groups=c)


def conv_same_explicit(x, conv, kh, kw, dh=1, dw=1):
    """padding='same' spelled out: d*(k-1) in total, the odd pixel after."""
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return F.conv2d(F.pad(x, (tw // 2, tw - tw // 2, th // 2, th - th // 2)), conv.weight, conv.bias,
                    dilation=(dh, dw))


# ---------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------
CASES = []


def case(name, decl, shape, body, build, about, prelude="", scale=1.0, shift=0.0, post=None, check=None):
    """decl: the .cnn input shape; shape: the input's actual shape; body: .cnn statements;
    build(): the torch module; about: the torch calls; scale, shift: input = N(0,1)*scale+shift;
    post(module, gen): adjust the random weights; check(module, x, y): extra self-check."""
    CASES.append(dict(name=name, decl=decl, shape=shape, body=body.strip("\n"), build=build, about=about,
                      prelude=prelude.strip("\n"), scale=scale, shift=shift, post=post, check=check))


C2 = nn.Conv2d
BN = nn.BatchNorm2d

# --- convolution -----------------------------------------------------------
case("conv_k1", "[N, 3, 8, 9]", (2, 3, 8, 9), "c = conv(5, 1, padding=valid)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 5, 1)), "nn.Conv2d(3, 5, 1)")
case("conv_k3_p1", "[N, 4, 8, 9]", (2, 4, 8, 9), "c = conv(6, 3, padding=1, in=4)",
     lambda: Net(lambda m, x: m.c(x), c=C2(4, 6, 3, padding=1)), "nn.Conv2d(4, 6, 3, padding=1)")
case("conv_k5_s2_p2", "[N, 3, 17, 19]", (2, 3, 17, 19), "c = conv(8, 5, stride=2, padding=2)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 8, 5, stride=2, padding=2)), "nn.Conv2d(3, 8, 5, stride=2, padding=2)")
case("conv_k6_s3", "[N, 3, 17, 19]", (2, 3, 17, 19), "c = conv(4, 6, stride=3)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, 6, stride=3)),
     "nn.Conv2d(3, 4, 6, stride=3) (the last rows and columns are never read)")
case("conv_k7_s2_p3_nobias", "[N, 3, 17, 19]", (1, 3, 17, 19), "c = conv(6, 7, stride=2, padding=3, bias=false)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 6, 7, stride=2, padding=3, bias=False)),
     "nn.Conv2d(3, 6, 7, stride=2, padding=3, bias=False)")
case("conv_1x7", "[N, 3, 6, 9]", (2, 3, 6, 9), "c = conv(4, 1 x 7, padding=(0, 3))",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, (1, 7), padding=(0, 3))), "nn.Conv2d(3, 4, (1, 7), padding=(0, 3))")
case("conv_3x5_s2x1", "[N, 3, 9, 10]", (2, 3, 9, 10), "c = conv(6, 3 x 5, stride=2 x 1, padding=1 x 2)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 6, (3, 5), stride=(2, 1), padding=(1, 2))),
     "nn.Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2))")
case("conv_pad_4tuple", "[N, 3, 7, 8]", (2, 3, 7, 8), "c = conv(4, 3, padding=(0, 2, 1, 3))  // top, bottom, left, right",
     lambda: Net(lambda m, x: m.c(F.pad(x, (1, 3, 0, 2))), c=C2(3, 4, 3)),
     "F.pad(x, (1, 3, 0, 2)) then nn.Conv2d(3, 4, 3)")
case("conv_pad_4tuple_s2_k4", "[N, 3, 9, 10]", (2, 3, 9, 10), "c = conv(5, 4, stride=2, padding=(2, 1, 0, 3))",
     lambda: Net(lambda m, x: m.c(F.pad(x, (0, 3, 2, 1))), c=C2(3, 5, 4, stride=2)),
     "F.pad(x, (0, 3, 2, 1)) then nn.Conv2d(3, 5, 4, stride=2)")
case("conv_same_k3", "[N, 3, 7, 8]", (2, 3, 7, 8), "c = conv(5, 3, padding=same)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 5, 3, padding="same")), "nn.Conv2d(3, 5, 3, padding='same')",
     check=lambda m, x, y: conv_same_explicit(x, m.c, 3, 3))
case("conv_same_k4", "[N, 3, 7, 8]", (2, 3, 7, 8), "c = conv(5, 4, padding=same)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 5, 4, padding="same")),
     "nn.Conv2d(3, 5, 4, padding='same') (= F.pad(x, (1, 2, 1, 2)) then the conv: the odd pixel after)",
     check=lambda m, x, y: conv_same_explicit(x, m.c, 4, 4))
case("conv_same_k2_d3", "[N, 3, 8, 9]", (2, 3, 8, 9), "c = conv(4, 2, dilation=3, padding=same)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, 2, dilation=3, padding="same")),
     "nn.Conv2d(3, 4, 2, dilation=3, padding='same') (= F.pad(x, (1, 2, 1, 2)) then the conv)",
     check=lambda m, x, y: conv_same_explicit(x, m.c, 2, 2, 3, 3))
case("conv_same_4x3", "[N, 3, 7, 8]", (2, 3, 7, 8), "c = conv(4, 4 x 3, padding=same)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, (4, 3), padding="same")),
     "nn.Conv2d(3, 4, (4, 3), padding='same') (= F.pad(x, (1, 1, 1, 2)) then the conv)",
     check=lambda m, x, y: conv_same_explicit(x, m.c, 4, 3))
case("conv_dil2", "[N, 3, 9, 10]", (2, 3, 9, 10), "c = conv(4, 3, dilation=2, padding=2)",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, 3, dilation=2, padding=2)), "nn.Conv2d(3, 4, 3, dilation=2, padding=2)")
case("conv_dil_3x2_s1x2", "[N, 3, 11, 12]", (2, 3, 11, 12), "c = conv(4, 3, stride=(1, 2), dilation=3 x 2, padding=(3, 1))",
     lambda: Net(lambda m, x: m.c(x), c=C2(3, 4, 3, stride=(1, 2), dilation=(3, 2), padding=(3, 1))),
     "nn.Conv2d(3, 4, 3, stride=(1, 2), dilation=(3, 2), padding=(3, 1))")
case("conv_groups2", "[N, 4, 8, 9]", (2, 4, 8, 9), "c = conv(6, 3, groups=2, padding=1)",
     lambda: Net(lambda m, x: m.c(x), c=C2(4, 6, 3, groups=2, padding=1)), "nn.Conv2d(4, 6, 3, groups=2, padding=1)")
case("conv_groups3_s2_nobias", "[N, 6, 9, 10]", (2, 6, 9, 10), "c = conv(9, 3, stride=2, groups=3, bias=false)",
     lambda: Net(lambda m, x: m.c(x), c=C2(6, 9, 3, stride=2, groups=3, bias=False)),
     "nn.Conv2d(6, 9, 3, stride=2, groups=3, bias=False)")
case("depthwise_k3", "[N, 5, 8, 9]", (2, 5, 8, 9), "dw = depthwise(3, padding=1)",
     lambda: Net(lambda m, x: m.dw(x), dw=C2(5, 5, 3, padding=1, groups=5)), "nn.Conv2d(5, 5, 3, padding=1, groups=5)")
case("depthwise_mult2_s2", "[N, 4, 9, 10]", (2, 4, 9, 10), "dw = depthwise(3, stride=2, padding=1, multiplier=2)",
     lambda: Net(lambda m, x: m.dw(x), dw=C2(4, 8, 3, stride=2, padding=1, groups=4)),
     "nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4) (depthwise, multiplier 2)")
case("conv_flip", "[N, 3, 7, 8]", (2, 3, 7, 8), "c = conv(4, 3 x 4, padding=(1, 2), flip=true)",
     lambda: Net(lambda m, x: F.conv2d(x, torch.flip(m.c.weight, [2, 3]), m.c.bias, padding=(1, 2)),
                 c=C2(3, 4, (3, 4))),
     "F.conv2d(x, torch.flip(c.weight, [2, 3]), c.bias, padding=(1, 2)) (true convolution)")
case("depthwise_flip_mult2", "[N, 3, 8, 9]", (1, 3, 8, 9), "dw = depthwise(5, padding=2, multiplier=2, bias=false, flip=true)",
     lambda: Net(lambda m, x: F.conv2d(x, torch.flip(m.dw.weight, [2, 3]), None, padding=2, groups=3),
                 dw=C2(3, 6, 5, groups=3, bias=False)),
     "F.conv2d(x, torch.flip(dw.weight, [2, 3]), None, padding=2, groups=3) (true convolution, depthwise x2)")
case("pointwise", "[N, 4, 5, 6]", (2, 4, 5, 6), "pw = pointwise(7, in=4)",
     lambda: Net(lambda m, x: m.pw(x), pw=C2(4, 7, 1)), "nn.Conv2d(4, 7, 1)")
case("pointwise_s2_nobias", "[N, 4, 7, 8]", (2, 4, 7, 8), "pw = pointwise(5, stride=2, bias=false)",
     lambda: Net(lambda m, x: m.pw(x), pw=C2(4, 5, 1, stride=2, bias=False)), "nn.Conv2d(4, 5, 1, stride=2, bias=False)")

# --- max pooling -----------------------------------------------------------
case("maxpool_k2", "[N, 3, 17, 19]", (2, 3, 17, 19), "maxpool(2)",
     lambda: Net(lambda m, x: F.max_pool2d(x, 2)), "nn.MaxPool2d(2) (floor: the last row and column are dropped)")
case("maxpool_k3_s2_p1_negative", "[N, 4, 9, 10]", (2, 4, 9, 10), "maxpool(3, stride=2, padding=1)",
     lambda: Net(lambda m, x: F.max_pool2d(x, 3, 2, 1)),
     "nn.MaxPool2d(3, stride=2, padding=1) on an input shifted by -3 (the padding is -inf, not 0)", shift=-3.0)
case("maxpool_ceil", "[N, 3, 7, 9]", (2, 3, 7, 9), "maxpool(2, ceil=true)",
     lambda: Net(lambda m, x: F.max_pool2d(x, 2, ceil_mode=True)), "nn.MaxPool2d(2, ceil_mode=True)")
case("maxpool_ceil_window_in_padding", "[N, 3, 8, 9]", (2, 3, 8, 9), "maxpool(3, stride=3, padding=1, ceil=true)",
     lambda: Net(lambda m, x: F.max_pool2d(x, 3, 3, 1, ceil_mode=True)),
     "nn.MaxPool2d(3, stride=3, padding=1, ceil_mode=True) (H: ceil gives 4 windows, the 4th would start "
     "in the bottom padding and is dropped -> 3; W: 4)")
case("maxpool_dilation2", "[N, 3, 11, 12]", (2, 3, 11, 12), "maxpool(3, stride=2, padding=1, dilation=2)",
     lambda: Net(lambda m, x: F.max_pool2d(x, 3, 2, 1, dilation=2)), "nn.MaxPool2d(3, stride=2, padding=1, dilation=2)")
case("maxpool_nonsquare", "[N, 4, 8, 9]", (1, 4, 8, 9), "maxpool(2 x 3, stride=(1, 2), padding=(1, 1), dilation=(3, 1))",
     lambda: Net(lambda m, x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(3, 1))),
     "nn.MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1), dilation=(3, 1))")

# --- average pooling -------------------------------------------------------
case("avgpool_k3_s2_p1", "[N, 3, 9, 10]", (2, 3, 9, 10), "avgpool(3, stride=2, padding=1)",
     lambda: Net(lambda m, x: F.avg_pool2d(x, 3, 2, 1)), "nn.AvgPool2d(3, stride=2, padding=1) (count_include_pad=True)")
case("avgpool_k3_s2_p1_nocountpad", "[N, 3, 9, 10]", (2, 3, 9, 10), "avgpool(3, stride=2, padding=1, count_pad=false)",
     lambda: Net(lambda m, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
     "nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)")
case("avgpool_ceil_countpad", "[N, 3, 8, 10]", (2, 3, 8, 10), "avgpool(3, stride=2, padding=1, ceil=true)",
     lambda: Net(lambda m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)),
     "nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True) (the last window runs past the padding; "
     "torch divides by the window clipped to input+padding: 2 rows, not 3)")
case("avgpool_ceil_nocountpad", "[N, 3, 8, 10]", (2, 3, 8, 10), "avgpool(3, stride=2, padding=1, ceil=true, count_pad=false)",
     lambda: Net(lambda m, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
     "nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)")
case("avgpool_ceil_window_in_padding", "[N, 2, 5, 7]", (2, 2, 5, 7), "avgpool(2, stride=2, padding=1, ceil=true)",
     lambda: Net(lambda m, x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True)),
     "nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True) (the ceil window would start in the padding "
     "and is dropped: 5x7 -> 3x4)")
case("avgpool_nonsquare", "[N, 4, 7, 8]", (1, 4, 7, 8), "avgpool(2 x 3, stride=(2, 1), padding=(1, 1))",
     lambda: Net(lambda m, x: F.avg_pool2d(x, (2, 3), (2, 1), (1, 1))),
     "nn.AvgPool2d((2, 3), stride=(2, 1), padding=(1, 1))")

# --- global and adaptive pooling ------------------------------------------
case("global_avgpool", "[N, 5, 7, 9]", (2, 5, 7, 9), "global_avgpool",
     lambda: Net(lambda m, x: F.adaptive_avg_pool2d(x, 1)), "nn.AdaptiveAvgPool2d(1)")
case("global_maxpool", "[N, 5, 7, 9]", (2, 5, 7, 9), "global_maxpool",
     lambda: Net(lambda m, x: F.adaptive_max_pool2d(x, 1)), "nn.AdaptiveMaxPool2d(1) on an input shifted by -3",
     shift=-3.0)
case("adaptive_avgpool_7x10_to_3x4", "[N, 3, 7, 10]", (2, 3, 7, 10), "adaptive_avgpool(3 x 4)",
     lambda: Net(lambda m, x: F.adaptive_avg_pool2d(x, (3, 4))), "nn.AdaptiveAvgPool2d((3, 4)) (overlapping windows)")
case("adaptive_avgpool_17x19_to_4", "[N, 2, 17, 19]", (1, 2, 17, 19), "adaptive_avgpool(4)",
     lambda: Net(lambda m, x: F.adaptive_avg_pool2d(x, 4)), "nn.AdaptiveAvgPool2d(4)")
case("adaptive_avgpool_upsample", "[N, 3, 3, 4]", (2, 3, 3, 4), "adaptive_avgpool(5 x 7)",
     lambda: Net(lambda m, x: F.adaptive_avg_pool2d(x, (5, 7))),
     "nn.AdaptiveAvgPool2d((5, 7)) on 3x4 (output larger than input: pixels repeat)")

# --- blurpool --------------------------------------------------------------
for _f, _s, _shape, _stmt in [
    (3, 2, (2, 3, 8, 9), "blurpool"),
    (1, 2, (2, 3, 7, 8), "blurpool(2, filter=1)"),
    (2, 2, (2, 3, 9, 10), "blurpool(stride=2, filter=2)"),
    (3, 1, (1, 4, 7, 8), "blurpool(1, 3)"),
    (4, 3, (2, 3, 11, 13), "blurpool(3, filter=4)"),
    (5, 1, (1, 3, 8, 9), "blurpool(stride=1, filter=5)"),
    (6, 2, (2, 2, 9, 12), "blurpool(2, filter=6)"),
    (7, 3, (1, 3, 10, 11), "blurpool(3, filter=7)"),
    (7, 2, (1, 2, 4, 5), "blurpool(2, filter=7)"),
]:
    _name = "blurpool_default" if _stmt == "blurpool" else f"blurpool_f{_f}_s{_s}"
    if _shape[2] == 4:
        _name += "_min_size"
    _pl, _pr = (_f - 1) // 2, math.ceil((_f - 1) / 2)
    _how = (f"x[:, :, ::{_s}, ::{_s}] (antialiased-cnns BlurPool(C, filt_size=1, stride={_s}))" if _f == 1 else
            f"F.pad(x, ({_pl}, {_pr}, {_pl}, {_pr}), mode='reflect') then F.conv2d(.., outer(a, a)/sum, "
            f"stride={_s}, groups=C), a = {BLUR_TAPS[_f]} (antialiased-cnns BlurPool(C, filt_size={_f}, stride={_s}))")
    case(_name, f"[N, {_shape[1]}, {_shape[2]}, {_shape[3]}]", _shape, _stmt,
         (lambda f=_f, s=_s: Net(lambda m, x: blurpool(x, s, f))), _how)

# --- activations -----------------------------------------------------------
case("relu", "[N, 4, 5, 6]", (2, 4, 5, 6), "relu", lambda: Net(lambda m, x: F.relu(x)), "nn.ReLU()")
case("relu6", "[N, 4, 5, 6]", (2, 4, 5, 6), "relu6", lambda: Net(lambda m, x: F.relu6(x)),
     "nn.ReLU6() on an input scaled by 5", scale=5.0)
case("leaky_relu", "[N, 4, 5, 6]", (2, 4, 5, 6), "leaky_relu", lambda: Net(lambda m, x: F.leaky_relu(x)),
     "nn.LeakyReLU() (negative_slope=0.01)")
case("leaky_relu_slope_2d", "[N, 7]", (3, 7), "leaky_relu(slope=0.2)",
     lambda: Net(lambda m, x: F.leaky_relu(x, 0.2)), "nn.LeakyReLU(0.2) on [N, F]")
case("sigmoid", "[N, 4, 5, 6]", (2, 4, 5, 6), "sigmoid", lambda: Net(lambda m, x: torch.sigmoid(x)),
     "nn.Sigmoid() on an input scaled by 4", scale=4.0)
case("tanh", "[N, 4, 5, 6]", (2, 4, 5, 6), "tanh", lambda: Net(lambda m, x: torch.tanh(x)),
     "nn.Tanh() on an input scaled by 3", scale=3.0)
case("identity", "[N, 4, 5, 6]", (2, 4, 5, 6), "identity", lambda: Net(lambda m, x: x), "nn.Identity()")
case("dropout", "[N, 3, 6, 7]", (2, 3, 6, 7), "c = conv(4, 3, padding=1)\ndropout(p=0.5)\nrelu",
     lambda: Net(lambda m, x: F.relu(m.drop(m.c(x))), c=C2(3, 4, 3, padding=1), drop=nn.Dropout(0.5)),
     "nn.Conv2d(3, 4, 3, padding=1), nn.Dropout(0.5) in eval mode (identity), nn.ReLU()")

# --- batch norm ------------------------------------------------------------
case("batchnorm", "[N, 6, 5, 6]", (2, 6, 5, 6), "bn = batchnorm(channels=6)",
     lambda: Net(lambda m, x: m.bn(x), bn=BN(6)), "nn.BatchNorm2d(6).eval() (eps=1e-5), non-trivial running stats")


def _small_var(m, g):
    m.bn.running_var.copy_(torch.rand(m.bn.running_var.shape, generator=g) * 0.02 + 0.001)


case("batchnorm_eps", "[N, 6, 5, 6]", (2, 6, 5, 6), "bn = batchnorm(eps=1e-2)",
     lambda: Net(lambda m, x: m.bn(x), bn=BN(6, eps=1e-2)),
     "nn.BatchNorm2d(6, eps=1e-2).eval(), running_var in [0.001, 0.021] so eps matters", post=_small_var)
case("batchnorm_1d", "[N, 7]", (3, 7), "bn = batchnorm",
     lambda: Net(lambda m, x: m.bn(x), bn=nn.BatchNorm1d(7)), "nn.BatchNorm1d(7).eval() on [N, F]")

# --- flatten, dense, softmax -----------------------------------------------
case("flatten", "[N, 3, 4, 5]", (2, 3, 4, 5), "flatten",
     lambda: Net(lambda m, x: torch.flatten(x, 1)), "torch.flatten(x, 1) (C, H, W order)")
case("flatten_dense", "[N, 3, 4, 5]", (2, 3, 4, 5), "flatten\nfc = dense(7, in=60)",
     lambda: Net(lambda m, x: m.fc(torch.flatten(x, 1)), fc=nn.Linear(60, 7)), "torch.flatten(x, 1), nn.Linear(60, 7)")
case("dense", "[N, 12]", (3, 12), "fc = dense(5, in=12)",
     lambda: Net(lambda m, x: m.fc(x), fc=nn.Linear(12, 5)), "nn.Linear(12, 5)")
case("dense_nobias", "[N, 12]", (3, 12), "fc = dense(4, bias=false)",
     lambda: Net(lambda m, x: m.fc(x), fc=nn.Linear(12, 4, bias=False)), "nn.Linear(12, 4, bias=False)")
case("softmax_2d", "[N, 10]", (3, 10), "softmax",
     lambda: Net(lambda m, x: F.softmax(x, dim=1)), "nn.Softmax(dim=1) on [N, F], input scaled by 3", scale=3.0)
case("softmax_4d_channels", "[N, 6, 3, 4]", (2, 6, 3, 4), "softmax(dim=1)",
     lambda: Net(lambda m, x: F.softmax(x, dim=1)), "nn.Softmax(dim=1) on [N, C, H, W] (over channels), input scaled by 2",
     scale=2.0)
case("softmax_4d_dim_neg1", "[N, 3, 4, 5]", (2, 3, 4, 5), "softmax(dim=-1)",
     lambda: Net(lambda m, x: F.softmax(x, dim=-1)), "nn.Softmax(dim=-1) on [N, C, H, W] (over W), input scaled by 2",
     scale=2.0)

# --- add, concat, blocks ---------------------------------------------------
case("add_residual", "[N, 4, 6, 7]", (2, 4, 6, 7), "c = conv(4, 3, padding=1)\nrelu\nadd(x)",
     lambda: Net(lambda m, x: F.relu(m.c(x)) + x, c=C2(4, 4, 3, padding=1)),
     "F.relu(nn.Conv2d(4, 4, 3, padding=1)(x)) + x")
case("add_three", "[N, 3, 5, 6]", (2, 3, 5, 6), "a = conv(3, 1)\nb = from x conv(3, 3, padding=1)\nadd(a, b, x)",
     lambda: Net(lambda m, x: m.a(x) + m.b(x) + x, a=C2(3, 3, 1), b=C2(3, 3, 3, padding=1)),
     "a(x) + b(x) + x with a = nn.Conv2d(3, 3, 1), b = nn.Conv2d(3, 3, 3, padding=1)")
case("concat_two", "[N, 3, 6, 7]", (2, 3, 6, 7), "a = conv(4, 1)\nb = from x conv(2, 3, padding=1)\nconcat(a, b)",
     lambda: Net(lambda m, x: torch.cat([m.a(x), m.b(x)], dim=1), a=C2(3, 4, 1), b=C2(3, 2, 3, padding=1)),
     "torch.cat([a(x), b(x)], dim=1) with a = nn.Conv2d(3, 4, 1), b = nn.Conv2d(3, 2, 3, padding=1)")
case("concat_three", "[N, 3, 6, 7]", (2, 3, 6, 7),
     "a = conv(2, 1)\nb = from x conv(3, 3, padding=1)\np = from x maxpool(3, stride=1, padding=1)\nconcat(a, b, p)\nrelu",
     lambda: Net(lambda m, x: F.relu(torch.cat([m.a(x), m.b(x), F.max_pool2d(x, 3, 1, 1)], dim=1)),
                 a=C2(3, 2, 1), b=C2(3, 3, 3, padding=1)),
     "F.relu(torch.cat([a(x), b(x), F.max_pool2d(x, 3, 1, 1)], dim=1)), a = nn.Conv2d(3, 2, 1), "
     "b = nn.Conv2d(3, 3, 3, padding=1)")

BASIC = """
block basic(channels) {
  conv1 = conv(channels, 3, padding=1, bias=false)
  bn1 = batchnorm
  relu
  conv2 = conv(channels, 3, padding=1, bias=false)
  bn2 = batchnorm
  add(in)
  relu
}
"""
BASIC_DOWN = """
block basic_down(channels, stride = 2) {
  conv1 = conv(channels, 3, stride=stride, padding=1, bias=false)
  bn1 = batchnorm
  relu
  conv2 = conv(channels, 3, padding=1, bias=false)
  bn2 = batchnorm
  downsample = from in seq {
    conv(channels, 1, stride=stride, bias=false)
    batchnorm
  }
  add(bn2)
  relu
}
"""
case("block_residual", "[N, 3, 8, 9]", (2, 3, 8, 9), "stem = conv(6, 3, padding=1)\nrelu\nlayer = basic(6) * 2",
     lambda: Net(lambda m, x: m.layer(F.relu(m.stem(x))), stem=C2(3, 6, 3, padding=1),
                 layer=nn.Sequential(Basic(6, 6), Basic(6, 6))),
     "nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Sequential(BasicBlock(6, 6), BasicBlock(6, 6)) "
     "(torchvision's BasicBlock, BatchNorm2d in eval mode)", prelude=BASIC)
case("block_downsample", "[N, 4, 9, 8]", (2, 4, 9, 8), "layer = seq {\n  basic_down(8, stride=2)\n  basic(8)\n}",
     lambda: Net(lambda m, x: m.layer(x), layer=nn.Sequential(Basic(4, 8, 2, downsample=True), Basic(8, 8))),
     "nn.Sequential(BasicBlock(4, 8, stride=2, downsample=nn.Sequential(nn.Conv2d(4, 8, 1, stride=2, "
     "bias=False), nn.BatchNorm2d(8))), BasicBlock(8, 8)), eval mode", prelude=BASIC + BASIC_DOWN)

# --- small whole models ----------------------------------------------------
case("model_small_b2", "[2, 3, 12, 12]", (2, 3, 12, 12), """
conv1 = conv(8, 3, padding=1, bias=false)
bn1 = batchnorm
relu
pool = maxpool(2)
conv2 = conv(12, 3)
relu
flatten
head = {
  drop = dropout(0.3)
  fc = dense(10, in=192)
}
softmax
""", lambda: Net(lambda m, x: F.softmax(m.head.fc(m.head.drop(torch.flatten(F.relu(m.conv2(m.pool(
    F.relu(m.bn1(m.conv1(x)))))), 1))), dim=1),
    conv1=C2(3, 8, 3, padding=1, bias=False), bn1=BN(8), pool=nn.MaxPool2d(2), conv2=C2(8, 12, 3),
    head=Net(drop=nn.Dropout(0.3), fc=nn.Linear(192, 10))),
    "conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False), bn1 = nn.BatchNorm2d(8), ReLU, nn.MaxPool2d(2), "
    "conv2 = nn.Conv2d(8, 12, 3), ReLU, torch.flatten(x, 1), head.drop = nn.Dropout(0.3), "
    "head.fc = nn.Linear(192, 10), nn.Softmax(dim=1); eval mode")
case("model_small_b3", "[3, 2, 17, 19]", (3, 2, 17, 19), """
features = seq {
  seq { conv(8, 3, stride=2, padding=1, bias=false)  batchnorm  relu6 }
  depthwise(3, padding=1, bias=false)
  batchnorm
  relu
  pointwise(12)
  avgpool(2, ceil=true)
}
pool = adaptive_avgpool(2)
flatten
classifier = seq {
  dropout(0.2)
  dense(6, in=48)
}
softmax
""", lambda: Net(lambda m, x: F.softmax(m.classifier(torch.flatten(m.pool(m.features(x)), 1)), dim=1),
                 features=nn.Sequential(
                     nn.Sequential(C2(2, 8, 3, stride=2, padding=1, bias=False), BN(8), nn.ReLU6()),
                     C2(8, 8, 3, padding=1, groups=8, bias=False), BN(8), nn.ReLU(), C2(8, 12, 1),
                     nn.AvgPool2d(2, ceil_mode=True)),
                 pool=nn.AdaptiveAvgPool2d(2),
                 classifier=nn.Sequential(nn.Dropout(0.2), nn.Linear(48, 6))),
    "features = nn.Sequential(nn.Sequential(nn.Conv2d(2, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8), "
    "nn.ReLU6()), nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU(), "
    "nn.Conv2d(8, 12, 1), nn.AvgPool2d(2, ceil_mode=True)), nn.AdaptiveAvgPool2d(2), torch.flatten(x, 1), "
    "classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(48, 6)), nn.Softmax(dim=1); eval mode")
case("model_symbolic_hw", "[N, 3, H, W]", (2, 3, 11, 14), """
conv1 = conv(6, 3, stride=2, padding=1)
relu
blurpool(2)
pool = global_avgpool
flatten
fc = dense(4, in=6)
""", lambda: Net(lambda m, x: m.fc(torch.flatten(F.adaptive_avg_pool2d(blurpool(F.relu(m.conv1(x)), 2, 3), 1), 1)),
                 conv1=C2(3, 6, 3, stride=2, padding=1), fc=nn.Linear(6, 4)),
    "conv1 = nn.Conv2d(3, 6, 3, stride=2, padding=1), ReLU, BlurPool(6, stride=2) (antialiased-cnns), "
    "nn.AdaptiveAvgPool2d(1), torch.flatten(x, 1), fc = nn.Linear(6, 4); H and W are symbolic in the .cnn")


# ---------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------
def randomize(module: nn.Module, g: torch.Generator):
    with torch.no_grad():
        for mod in module.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) / math.sqrt(fan_in))
                if mod.bias is not None:
                    mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) - 0.5)
            elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=g) * 0.3)
                mod.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                mod.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)


def state_dict_f32(module):
    return {k: v.detach().numpy().astype(np.float32) for k, v in module.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def cnn_text(c):
    lines = [f"// {c['name']}: {c['about']}", "// Generated by tools/make_op_fixtures.py; edit that file, not this one."]
    if c["prelude"]:
        lines += [c["prelude"], ""]
    lines.append(f"model {c['name']} {{")
    lines.append(f"  input x: {c['decl']}")
    lines += ["  " + ln if ln else ln for ln in c["body"].split("\n")]
    lines.append("}")
    return "\n".join(lines) + "\n"


def check_with_cnnc(cnnc, path, c, x, y, module, sd):
    decl = [d.strip() for d in c["decl"].strip("[]").split(",")]
    dims = []
    for d, n in zip(decl, x.shape):
        if not d.isdigit():
            dims += ["--dim", f"{d}={n}"]
    r = subprocess.run([cnnc, "check", "--format", "json", *dims, path], capture_output=True, text=True)
    problems = []
    if r.returncode != 0:
        return [f"cnnc check exited {r.returncode}: {r.stdout[-2000:]} {r.stderr[-2000:]}"], []
    doc = json.loads(r.stdout)
    model = doc["models"][0]
    out = model["layers"][-1]["shape"]
    if out != list(y.shape):
        problems.append(f"output shape: cnnc {out}, torch {list(y.shape)}")
    ck = {w["key"]: w["shape"] for layer in model["layers"] for w in layer["weights"]}
    tk = {k: list(v.shape) for k, v in sd.items()}
    if ck != tk:
        problems.append(f"weights: cnnc {ck}, torch {tk}")
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for n, b in module.named_buffers() if n.endswith(("running_mean", "running_var")))
    if (model["totals"]["params"], model["totals"]["buffers"]) != (params, buffers):
        problems.append(f"counts: cnnc {model['totals']['params']}+{model['totals']['buffers']}, "
                        f"torch {params}+{buffers}")
    warns = [d["code"] for d in doc["diagnostics"]]
    return problems, warns


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "ops"))
    ap.add_argument("--cnnc", default="auto", help="cnnc binary to check the .cnn files with; 'none' skips")
    a = ap.parse_args()
    cnnc = a.cnnc
    if cnnc == "auto":
        cnnc = os.path.join(ROOT, "target", "debug", "cnnc")
        if not os.path.exists(cnnc):
            print(f"note: {cnnc} not found, the .cnn files are not checked", file=sys.stderr)
            cnnc = None
    elif cnnc == "none":
        cnnc = None

    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    os.makedirs(a.out, exist_ok=True)
    stale = [d for d in os.listdir(a.out) if os.path.isdir(os.path.join(a.out, d)) and d not in names]
    for d in stale:
        print(f"removing {d}/ (no longer a case)", file=sys.stderr)
        shutil.rmtree(os.path.join(a.out, d))

    failures, rows = [], []
    for c in CASES:
        g = torch.Generator().manual_seed(zlib.crc32(c["name"].encode()))
        module = c["build"]()
        module.double()
        randomize(module, g)
        if c["post"]:
            with torch.no_grad():
                c["post"](module, g)
        module.eval()
        sd = state_dict_f32(module)
        with torch.no_grad():   # compute from exactly the stored float32 values
            module.load_state_dict({k: torch.from_numpy(v.astype(np.float64)) for k, v in sd.items()}, strict=False)
        x32 = (torch.randn(c["shape"], generator=g) * c["scale"] + c["shift"]).numpy().astype(np.float32)
        x = torch.from_numpy(x32.astype(np.float64))
        with torch.no_grad():
            y = module(x)
            if c["check"]:
                y2 = c["check"](module, x, y)
                assert torch.allclose(y, y2, rtol=0, atol=1e-12), (c["name"], (y - y2).abs().max())
        assert y.dtype == torch.float64 and torch.isfinite(y).all(), c["name"]
        y32 = y.numpy().astype(np.float32)

        d = os.path.join(a.out, c["name"])
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        with open(os.path.join(d, "model.cnn"), "w") as f:
            f.write(cnn_text(c))
        save_file(sd, os.path.join(d, "weights.safetensors"))
        os.chmod(os.path.join(d, "weights.safetensors"), 0o644)
        np.save(os.path.join(d, "input.npy"), x32)
        np.save(os.path.join(d, "expected.npy"), y32)
        with open(os.path.join(d, "about.txt"), "w") as f:
            f.write(c["about"] + "\n")

        note = ""
        if cnnc:
            problems, warns = check_with_cnnc(cnnc, os.path.join(d, "model.cnn"), c, x32, y32, module, sd)
            if problems:
                failures.append((c["name"], problems))
            note = " ".join(sorted(set(warns)))
        rows.append((c, list(x32.shape), list(y32.shape), len(sd)))
        print(f"{c['name']:32s} {str(list(x32.shape)):18s} -> {str(list(y32.shape)):18s} "
              f"{len(sd):2d} tensors {note}")

    write_readme(a.out, rows)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(a.out) for f in fs)
    print(f"{len(CASES)} cases, {total / 1e3:.0f} kB in {a.out}")
    if failures:
        for n, ps in failures:
            for p in ps:
                print(f"MISMATCH {n}: {p}", file=sys.stderr)
        return 1
    return 0


def write_readme(out, rows):
    lines = [
        "# Per-operator fixtures (expected outputs from PyTorch)",
        "",
        "Generated by `tools/make_op_fixtures.py`; do not edit by hand: change the script and run",
        "`/tmp/tv/bin/python tools/make_op_fixtures.py --cnnc target/debug/cnnc` from the repository root",
        "(any Python with torch, numpy and safetensors will do).",
        "",
        "Each folder holds `model.cnn` (its input is `x`), `weights.safetensors` (the torch module's `state_dict`",
        "without `num_batches_tracked`, float32; an empty file when the case has no weights), `input.npy` (float32),",
        "`expected.npy` (float32) and `about.txt` (the torch calls). The expected output is computed by",
        "`torch.nn` / `torch.nn.functional` in float64 from the float32 weights and input, then rounded once to",
        "float32, so a correct float32 implementation should match it to a few ulps of the accumulated sums",
        "(a relative tolerance around 1e-5 is ample for these sizes).",
        "",
        "| case | input | output | .cnn | torch |",
        "|---|---|---|---|---|",
    ]
    for c, xs, ys, _ in rows:
        stmt = "; ".join(ln.strip() for ln in c["body"].split("\n") if ln.strip() and not ln.strip().startswith("//"))
        stmt = stmt.split("//")[0].strip().replace("{; ", "{ ").replace("; }", " }")
        if len(stmt) > 70:
            stmt = stmt[:67].rstrip() + " ..."
        stmt = stmt.replace("|", "\\|")
        about = c["about"].replace("|", "\\|")
        lines.append(f"| `{c['name']}` | {xs} | {ys} | `{stmt}` | {about} |")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
