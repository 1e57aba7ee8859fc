"""Fast-path building blocks equal the plain PyTorch operations they replace; each runs where this CPU has what
it needs, and its exact fallback runs elsewhere (AVX2-only CPUs: no bf16 fast path)."""

import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from smile_studio.nets import onednn
from smile_studio.nets.layers import ConvLayer
from smile_studio.nets.onednn import (
    CONV_ADD,
    PACKED_CONV,
    PACKED_CONV_T,
    conv2d_packed,
    conv_transpose2d_packed,
    fast_path_available,
    nearest_polyphase_weight,
    upsample_conv3x3,
)


@pytest.fixture(autouse=True)
def fresh_probes():
    """Each test probes the fast paths anew and leaves no switched-off path behind."""
    onednn._FAST.clear()
    yield
    onednn._FAST.clear()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("k, padding, size", [(3, 1, 8), (2, 1, 5), (1, 0, 16)])
def test_packed_convolution_equals_conv2d(dtype, k, padding, size):
    g = torch.Generator().manual_seed(k * 10 + size)
    x = torch.randn(2, 32, size, size, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(48, 32, k, k, generator=g).to(dtype) / 10
    b = torch.randn(48, generator=g).to(dtype)
    cache: dict = {}
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    fast = fast_path_available(PACKED_CONV, dtype)
    with torch.no_grad():
        out = conv2d_packed(cache, x, w, b, padding=padding)
        again = conv2d_packed(cache, x, w, b, padding=padding)
        fused = conv2d_packed(cache, x, w, b, padding=padding, leaky=0.2)
        ref = F.conv2d(x, w, b, padding=padding)
    assert len(cache) == (1 if fast else 0)  # one reordered weight for this input shape, reused
    with torch.no_grad():
        for n in (1, 3, 5):  # every batch size shares that one reordered weight
            more = x.repeat(n, 1, 1, 1).contiguous(memory_format=torch.channels_last)
            assert torch.allclose(conv2d_packed(cache, more, w, b, padding=padding)[-2:].float(), out.float(),
                                  atol=tol, rtol=tol)
        assert len(cache) == (1 if fast else 0)
        for extra in range(1, 7):  # other image sizes come and go: the cache stays bounded
            other = F.pad(x, (0, extra, 0, extra)).contiguous(memory_format=torch.channels_last)
            got = conv2d_packed(cache, other, w, b, padding=padding)
            assert torch.allclose(got.float(), F.conv2d(other, w, b, padding=padding).float(), atol=tol, rtol=tol)
    assert len(cache) == (4 if fast else 0) and fast_path_available(PACKED_CONV, dtype) == fast
    assert out.shape == ref.shape and torch.allclose(out.float(), ref.float(), atol=tol, rtol=tol)
    if not fast:
        assert torch.equal(out, ref)  # the fallback is the plain convolution itself
    assert torch.equal(out, again)
    assert torch.allclose(fused.float(), F.leaky_relu(ref, 0.2).float(), atol=tol, rtol=tol)


def test_conv_layer_inference_fast_path_equals_module_by_module():
    torch.manual_seed(0)
    for kwargs in ({}, {"downsample": True}, {"upsample": True}, {"activate": False}):
        layer = ConvLayer(8, 16, 3, **kwargs)
        bias = getattr(layer[-1], "bias", None)
        if bias is not None:
            with torch.no_grad():
                bias.normal_()
        x = torch.randn(1, 8, 12, 12).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            fast = layer(x)
        slow = torch.nn.Sequential.forward(layer, x)  # grad enabled: the modules one by one
        assert fast.shape == slow.shape, kwargs
        assert torch.allclose(fast, slow.detach(), atol=1e-5), kwargs


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_convolution_with_fused_sum_equals_conv_plus_tensor(dtype):
    from smile_studio.nets.onednn import conv2d_add

    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 19, 16, 16, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(64, 19, 3, 3, generator=g).to(dtype)
    b = torch.randn(64, generator=g).to(dtype)
    other = torch.randn(1, 64, 16, 16, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out = conv2d_add(x, w, b, other, padding=1)
    ref = F.conv2d(x.double(), w.double(), b.double(), padding=1) + other.double()
    tol = 1e-4 if dtype == torch.float32 else 0.05
    assert out.shape == ref.shape
    assert (out.double() - ref).abs().max() <= tol * ref.abs().max()


@pytest.mark.parametrize("size", [8, 5])
def test_packed_transposed_convolution_equals_conv_transpose2d(size):
    """The stride-2 transposed convolution with its weight reordered once (float32, where the probe passes; the
    plain operation elsewhere), repeated calls reusing the reordered weight made by a function only once."""
    g = torch.Generator().manual_seed(size)
    x = torch.randn(1, 32, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(32, 24, 3, 3, generator=g) / 10
    made, cache = [], {}
    with torch.no_grad():
        ref = F.conv_transpose2d(x, w, stride=2)
        for _ in range(3):
            out = conv_transpose2d_packed(cache, x, lambda: made.append(1) or w)
            assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    assert (len(cache), len(made)) == ((1, 1) if fast_path_available(PACKED_CONV_T, torch.float32) else (0, 3))


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("batch, height, width", [(1, 8, 8), (3, 5, 7)])
def test_upsample_conv3x3_equals_nearest_upsampling_then_convolution(packed, batch, height, width):
    """The polyphase form (a 2x2 convolution of the small input, phases interleaved) gives the 3x3 convolution of
    the nearest-upsampled input, edges included, with and without a per-sample output scale, from a weight or a
    function making it (reordered once where the packed path runs)."""
    g = torch.Generator().manual_seed(batch * 100 + height)
    x = torch.randn(batch, 16, height, width, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(12, 16, 3, 3, generator=g) / 10
    scale = torch.rand(batch, 12, generator=g) + 0.5
    poly, made, cache = nearest_polyphase_weight(w), [], {}
    with torch.no_grad():
        ref = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=1)
        for s in (None, scale, None):
            weight = (lambda: made.append(1) or poly) if packed else poly
            out = upsample_conv3x3(x, weight, s, cache if packed else None)
            want = ref if s is None else ref * s[:, :, None, None]
            assert out.shape == (batch, 12, 2 * height, 2 * width)
            assert out.is_contiguous(memory_format=torch.channels_last)
            assert torch.allclose(out, want, atol=1e-5, rtol=1e-5), (out - want).abs().max()
    if packed:
        assert len(made) == (1 if fast_path_available(PACKED_CONV, torch.float32) else 3)


def test_float32_fast_path_runs_on_every_x86_cpu_with_onednn():
    """oneDNN's float32 convolutions need only SSE4.1/AVX2: the packed path must survive on any x86-64 CPU."""
    if not torch.backends.mkldnn.is_available():
        pytest.fail("this torch build has no oneDNN: the CPU fast paths cannot run")
    assert fast_path_available(PACKED_CONV, torch.float32) and fast_path_available(PACKED_CONV_T, torch.float32)
    from smile_studio.nets.runtime import onednn_bf16_supported

    bf16_units = onednn_bf16_supported()
    assert fast_path_available(PACKED_CONV, torch.bfloat16) == bf16_units
    assert fast_path_available(CONV_ADD, torch.bfloat16) == bf16_units


def test_a_failing_bf16_path_switches_off_only_itself(monkeypatch):
    """A bf16 failure inside oneDNN (what AVX2-only CPUs raise) falls back for that call and that dtype only."""
    g = torch.Generator().manual_seed(5)
    x32 = torch.randn(1, 16, 8, 8, generator=g).contiguous(memory_format=torch.channels_last)
    w32 = torch.randn(24, 16, 3, 3, generator=g)
    assert fast_path_available(PACKED_CONV, torch.float32)
    onednn._FAST[(PACKED_CONV, torch.bfloat16)] = True  # pretend the probe passed, then fail for real
    real = torch._C._nn.mkldnn_reorder_conv2d_weight

    def refuse_bf16(weight, *args):
        if weight.dtype == torch.bfloat16:
            raise RuntimeError("bf16 path needs the cpu support avx512bw, avx512vl and avx512dq")
        return real(weight, *args)

    monkeypatch.setattr(torch._C._nn, "mkldnn_reorder_conv2d_weight", refuse_bf16)
    x16, w16, cache = x32.to(torch.bfloat16), w32.to(torch.bfloat16), {}
    with torch.no_grad():
        out16 = conv2d_packed(cache, x16, w16, padding=1)
        assert torch.equal(out16, F.conv2d(x16, w16, padding=1)) and not cache
        assert not fast_path_available(PACKED_CONV, torch.bfloat16)
        cache32: dict = {}
        out32 = conv2d_packed(cache32, x32, w32, padding=1)
    assert fast_path_available(PACKED_CONV, torch.float32) and len(cache32) == 1
    assert torch.allclose(out32, F.conv2d(x32, w32, padding=1), atol=1e-5)


@pytest.mark.parametrize("kernel_caps", [False, True])
def test_the_avx2_switch_alone_makes_the_process_an_avx2_cpu(kernel_caps):
    """``SMILE_CPU_CAP=avx2`` by itself (the package sets PyTorch's and oneDNN's own caps from it) or beside them:
    bf16 falls back exactly, float32 keeps its fast paths, previews are float32, and ``info`` says so (the whole
    network and engine suite runs again under it: tests/test_cpu_cap.py)."""
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")}
    env["SMILE_CPU_CAP"] = "avx2"
    if kernel_caps:
        env.update(ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2")
    probe = ("import smile_studio, torch; from smile_studio.nets.runtime import preview_dtype, cpu_description; "
             "from smile_studio.nets.onednn import fast_paths_report as r; "
             "print(r(), torch.backends.cpu.get_cpu_capability(), cpu_description()); "
             "print(preview_dtype(torch.device('cpu')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
    info = out.stdout
    assert out.returncode == 0, out.stderr[-2000:]
    assert "'packed convolution float32': True" in info and "'packed convolution bfloat16': False" in info
    assert "'packed transposed convolution float32': True" in info
    assert "'convolution with fused sum bfloat16': False" in info
    assert " AVX2 " in info and "behaving as AVX2 only (SMILE_CPU_CAP)" in info
    assert info.strip().endswith("torch.float32")


def test_an_unknown_cpu_cap_is_refused_by_name(monkeypatch):
    from smile_studio.nets.runtime import cpu_cap

    monkeypatch.setenv("SMILE_CPU_CAP", "sse2")
    with pytest.raises(ValueError, match="SMILE_CPU_CAP='sse2'"):
        cpu_cap()


def test_scaled_weights_are_made_in_the_inputs_layout():
    """Weights scaled for a channels_last input come out channels_last (the convolution would otherwise copy them
    on every call), with the values of the plain product; with gradients on, the product stays differentiable."""
    from smile_studio.nets.layers import EqualConv2d, layout_of, scaled_copy

    g = torch.Generator().manual_seed(0)
    w = torch.randn(16, 8, 3, 3, generator=g)
    factor = torch.rand(16, 1, 1, 1, generator=g)
    with torch.no_grad():
        for fmt in (torch.channels_last, torch.contiguous_format):
            for dtype in (torch.float32, torch.bfloat16):
                out = scaled_copy(w, factor, dtype, fmt)
                assert out.dtype == dtype and out.is_contiguous(memory_format=fmt)
                assert torch.equal(out, (w * factor).to(dtype))
    x = torch.randn(1, 8, 6, 6, generator=g)
    assert layout_of(x) == torch.contiguous_format
    assert layout_of(x.contiguous(memory_format=torch.channels_last)) == torch.channels_last
    conv = EqualConv2d(8, 16, 3, padding=1)
    with torch.no_grad():
        fast = conv(x.contiguous(memory_format=torch.channels_last))
    plain = conv(x)
    assert plain.requires_grad and torch.allclose(fast, plain.detach(), atol=1e-5)
    leaf = w.clone().requires_grad_(True)
    scaled_copy(leaf, 2.0, torch.float32).sum().backward()
    assert torch.equal(leaf.grad, torch.full_like(w, 2.0))
