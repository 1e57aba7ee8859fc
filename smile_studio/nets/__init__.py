"""Pure torch networks whose state_dict keys equal the official SMILE checkpoints.

Reading order, next to the paper and the official code:

1. ``layers`` — StyleGAN2's equalised layers (rosinality's names), the bricks of both networks.
2. ``sem`` — SMILE_SEM: the layout generator, mapping network, style encoder and discriminator, with their
   forward passes as the official ``models/*.py`` run them (``fan`` is the landmark network it masks with).
3. ``syn_layers`` then ``syn`` — SMILE_SYN as the paper draws it: the region-wise modulated convolution (SPADE
   blended with per-region codes), the styled convolution, ToRGB and the region encoder; then the generator's
   parameters and its official ``forward`` in forward order (``official_render`` is the official wrapper's
   render, the baseline everything faster is held to).
4. The fast paths, each its own module over the same parameters and tied to the reference by equality tests:
   ``syn_fast_layers`` (folded style convolution, window-sum demodulation, banded SPADE, prepared weights),
   ``syn_fast`` (map features kept between renders, the whole fast render), ``syn_local`` (a stroke's local
   re-render), ``onednn`` (CPU convolutions with weights reordered once, polyphase transposed convolutions).
5. The rest: ``checkpoint`` (safe, strict loading; the architecture our trainer records), ``golden`` (checks
   against the official code's outputs), ``runtime`` / ``allocator`` (device, precision, memory), the networks
   the evaluation and the parser use (``parser``, ``attributes``, ``inception``, ``lpips``, ``pose``) and the
   Enhance upsamplers (``enhance``).
"""
