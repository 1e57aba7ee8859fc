"""Fast-path building blocks equal the plain PyTorch operations they replace."""

import pytest
import torch
import torch.nn.functional as F

from smile_studio.nets.layers import _PACKING, ConvLayer, conv2d_packed


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("k, padding, size", [(3, 1, 8), (2, 1, 5), (1, 0, 16)])
def test_packed_convolution_equals_conv2d(dtype, k, padding, size):
    g = torch.Generator().manual_seed(k * 10 + size)
    x = torch.randn(2, 32, size, size, generator=g).to(dtype).contiguous(memory_format=torch.channels_last)
    w = torch.randn(48, 32, k, k, generator=g).to(dtype) / 10
    b = torch.randn(48, generator=g).to(dtype)
    cache: dict = {}
    tol = 1e-5 if dtype == torch.float32 else 2e-2
    with torch.no_grad():
        out = conv2d_packed(cache, x, w, b, padding=padding)
        again = conv2d_packed(cache, x, w, b, padding=padding)
        fused = conv2d_packed(cache, x, w, b, padding=padding, leaky=0.2)
        ref = F.conv2d(x, w, b, padding=padding)
    assert len(cache) == 1  # one reordered weight for this input shape, reused
    with torch.no_grad():
        for n in range(3, 9):  # other shapes come and go: the cache stays bounded
            more = x.repeat(n, 1, 1, 1).contiguous(memory_format=torch.channels_last)
            assert torch.allclose(conv2d_packed(cache, more, w, b, padding=padding)[:2].float(), out.float(),
                                  atol=tol, rtol=tol)
    assert len(cache) == 4 and _PACKING["ok"]
    assert out.shape == ref.shape and torch.allclose(out.float(), ref.float(), atol=tol, rtol=tol)
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
    from smile_studio.nets.layers import conv2d_add

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
