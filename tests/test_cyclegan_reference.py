"""CycleGAN's step against a hand computation on 1x1-conv networks: the LSGAN, cycle (10) and identity (0.5) terms,
D_a and D_b updated first on history-pool draws, then both generators through the updated Ds."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan.engine.phases import KeyStreams
from jaxgan.translation.cyclegan import make_cyclegan_step
from jaxgan.translation.losses import get_translation_loss
from jaxgan.translation.state import TranslationModels, create_state

LR, POOL = 0.1, 2


class PixelLinear(nn.Module):
    """A 1x1 convolution: a per-pixel affine map (a generator with `channels` = C, a patch D with 1)."""

    channels: int
    norm: str = "none"  # no BatchNorm: the step may merge its calls into one batch

    @nn.compact
    def __call__(self, x, train=True):
        return nn.Conv(self.channels, (1, 1))(x)


def apply(params, x):
    """A PixelLinear by hand: x @ kernel + bias at every pixel."""
    return jnp.einsum("nhwc,cd->nhwd", x, params["Conv_0"]["kernel"][0, 0]) + params["Conv_0"]["bias"]


def pool_by_hand(stored, count, fakes, key):
    """Zhu et al.'s ImagePool.query: fill while not full; then per image, with p = 0.5 (a coin from fold_in(key, i))
    return a uniformly chosen stored image and store the new one in its place, else return the new one."""
    stored, out, swaps = np.array(stored), [], 0
    for i, image in enumerate(np.asarray(fakes)):
        coin_key, slot_key = jax.random.split(jax.random.fold_in(key, i))
        if count < POOL:
            stored[count], count = image, count + 1
            out.append(image)
        elif float(jax.random.uniform(coin_key)) > 0.5:
            slot = int(jax.random.randint(slot_key, (), 0, POOL))
            out.append(stored[slot].copy())
            stored[slot], swaps = image, swaps + 1
        else:
            out.append(image)
    return stored, count, np.stack(out), swaps


def d_loss(d, real, fake):
    """LSGAN D: 0.5 [mean (D(real) - 1)^2 + mean D(fake)^2]."""
    return 0.5 * (jnp.mean((apply(d, real) - 1.0) ** 2) + jnp.mean(apply(d, fake) ** 2))


def g_loss(g, d, a, b):
    """LSGAN adversarial terms + 10 * cycle L1 + 10 * 0.5 * identity L1, through Ds `d`."""
    fake_b, fake_a = apply(g["g_ab"], a), apply(g["g_ba"], b)
    adv = jnp.mean((apply(d["d_b"], fake_b) - 1.0) ** 2) + jnp.mean((apply(d["d_a"], fake_a) - 1.0) ** 2)
    cycle = jnp.mean(jnp.abs(apply(g["g_ba"], fake_b) - a)) + jnp.mean(jnp.abs(apply(g["g_ab"], fake_a) - b))
    identity = jnp.mean(jnp.abs(apply(g["g_ab"], b) - b)) + jnp.mean(jnp.abs(apply(g["g_ba"], a) - a))
    return adv + 10.0 * cycle + 10.0 * 0.5 * identity


def step_by_hand(params, pools, batch, key):
    """One step: pool draws of this step's fakes, D_b and D_a SGD updates, then G's SGD update through them."""
    g = {n: params[n] for n in ("g_ab", "g_ba")}
    fakes = {"b": apply(g["g_ab"], batch["a"]), "a": apply(g["g_ba"], batch["b"])}
    new, losses, swaps = dict(params), {}, 0
    for dom in ("b", "a"):
        pool_key = key.phase(f"D_{dom}").phase("pool").key  # the D phase's named "pool" stream
        *pools[dom], pooled, n = pool_by_hand(*pools[dom], fakes[dom], pool_key)
        d = params[f"d_{dom}"]
        losses[f"Loss/d_{dom}"], grads = jax.value_and_grad(d_loss)(d, batch[dom], jnp.asarray(pooled))
        new[f"d_{dom}"], swaps = jax.tree.map(lambda p, q: p - LR * q, d, grads), swaps + n
    losses["Loss/G"], grads = jax.value_and_grad(g_loss)(g, new, batch["a"], batch["b"])
    new.update(jax.tree.map(lambda p, q: p - LR * q, g, grads))
    return new, losses, swaps


def test_cyclegan_step_equals_the_hand_computation_with_its_pool_and_update_order():
    nets = {n: PixelLinear(2 if n.startswith("g") else 1) for n in ("g_ab", "g_ba", "d_a", "d_b")}
    models = TranslationModels("cyclegan", {n: nets[n] for n in ("g_ab", "g_ba")},
                               {n: nets[n] for n in ("d_a", "d_b")}, optax.sgd(LR), optax.sgd(LR), pool_size=POOL)
    state = create_state(models, (2, 2, 2), seed=0)
    step = jax.jit(make_cyclegan_step(models, get_translation_loss("least_squares"), lambda_cycle=10.0,
                                      lambda_identity=0.5))
    params = {n: state.nets[n].params for n in nets}
    pools = {dom: (np.zeros((POOL, 2, 2, 2), np.float32), 0) for dom in ("a", "b")}
    rng, swaps = np.random.default_rng(0), 0
    for _ in range(3):  # step 0 fills the pools; later steps draw from them
        batch = {k: jnp.asarray(rng.uniform(-1, 1, (2, 2, 2, 2)), jnp.float32) for k in ("a", "b")}
        key = KeyStreams.of_step(state.rng, state.step)
        params, losses, n = step_by_hand(params, pools, batch, key)
        state, metrics = step(state, batch)
        swaps += n
        for name, value in losses.items():
            np.testing.assert_allclose(metrics[name], value, rtol=1e-5, err_msg=name)
        for name in nets:
            for got, want in zip(jax.tree.leaves(state.nets[name].params), jax.tree.leaves(params[name]), strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6, err_msg=name)
        for dom in ("a", "b"):
            np.testing.assert_allclose(state.aux["pools"][dom].images, pools[dom][0], rtol=1e-5, atol=1e-6)
            assert int(state.aux["pools"][dom].count) == pools[dom][1]
    assert swaps > 0  # some D really trained on an older fake from its pool
