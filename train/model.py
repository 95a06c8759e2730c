"""The MatMul-free LM (Hugging Face `HGRNBitForCausalLM`, model_type `hgrn_bit`) in PyTorch.

Read it beside docs/MODEL.md: the modules below carry exactly the Hugging Face parameter names,
so `state_dict()` saved with safetensors is a checkpoint in the layout of `ridger/MMfreeLM-*`.

Training keeps float latent weights and quantises in the forward pass with the straight-through
estimator (gradients pass through the rounding as if it were the identity), as in the paper.
"""

import json
import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# BitLinear's own RMSNorm: the module declares 1e-8, but the fused kernel that the published
# checkpoints were trained and evaluated with uses 1e-6 (MODEL.md).
BITLINEAR_NORM_EPS = 1e-6
ACTIVATION_QMAX = 127.0
SCALE_FLOOR = 1e-5


@dataclass
class ModelConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    hidden_ratio: int = 4
    intermediate_size: int | None = None  # None: the rule in `ffn_size`
    rms_norm_eps: float = 1e-6
    use_lower_bound: bool = True
    bos_token_id: int = 0
    eos_token_id: int = 1
    max_position_embeddings: int = 2048
    initializer_range: float = 0.02

    @property
    def ffn_size(self) -> int:
        if self.intermediate_size is not None:
            return self.intermediate_size
        return 256 * math.ceil(int(self.hidden_size * self.hidden_ratio * 2 / 3) / 256)

    def to_hf(self, dtype_name: str = "float16") -> dict:
        """config.json as the original implementation writes it (fields MODEL.md names, and the
        fixed ones every published checkpoint carries)."""
        return {
            "architectures": ["HGRNBitForCausalLM"],
            "model_type": "hgrn_bit",
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_heads": 1,
            "expand_ratio": 1,
            "hidden_ratio": self.hidden_ratio,
            "intermediate_size": self.intermediate_size,
            "rms_norm_eps": self.rms_norm_eps,
            "use_lower_bound": self.use_lower_bound,
            "use_short_conv": False,
            "conv_size": 4,
            "share_conv_kernel": True,
            "attn_mode": "fused_recurrent",
            "hidden_act": "swish",
            "max_position_embeddings": self.max_position_embeddings,
            "initializer_range": self.initializer_range,
            "tie_word_embeddings": False,
            "fuse_cross_entropy": True,
            "use_cache": True,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": self.eos_token_id,
            "pad_token_id": None,
            "torch_dtype": dtype_name,
        }

    @classmethod
    def from_hf(cls, hf: dict) -> "ModelConfig":
        if hf.get("model_type") != "hgrn_bit":
            raise ValueError(f"model_type {hf.get('model_type')!r} is not hgrn_bit")
        if hf.get("use_short_conv"):
            raise ValueError("use_short_conv=true is not implemented")
        if hf.get("num_heads", 1) != 1 or hf.get("expand_ratio", 1) != 1:
            raise ValueError("only num_heads=1 and expand_ratio=1 are implemented")
        if hf.get("tie_word_embeddings"):
            raise ValueError("tie_word_embeddings=true is not implemented")
        return cls(
            vocab_size=hf["vocab_size"],
            hidden_size=hf["hidden_size"],
            num_hidden_layers=hf["num_hidden_layers"],
            hidden_ratio=hf.get("hidden_ratio", 4),
            intermediate_size=hf.get("intermediate_size"),
            rms_norm_eps=hf.get("rms_norm_eps", 1e-6),
            use_lower_bound=hf.get("use_lower_bound", True),
            bos_token_id=hf.get("bos_token_id", 0),
            eos_token_id=hf.get("eos_token_id", 1),
            max_position_embeddings=hf.get("max_position_embeddings", 2048),
            initializer_range=hf.get("initializer_range", 0.02),
        )


# ---------------------------------------------------------------------------------------------
# Primitives


def rmsnorm(x: torch.Tensor, gain: torch.Tensor, eps: float) -> torch.Tensor:
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * gain


def round_half_away_from_zero(v: torch.Tensor) -> torch.Tensor:
    # torch.round rounds ties to even; the fused activation-quant kernel rounds them away from
    # zero. v - trunc(v) is exact in floating point, so only true ties are moved.
    truncated = torch.trunc(v)
    return torch.where((v - truncated).abs() == 0.5, truncated + torch.sign(v), torch.round(v))


def quantize_activations(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token: int8 values q (held as float) and the scale s_x with u ~ q / s_x."""
    scale = ACTIVATION_QMAX / u.abs().amax(-1, keepdim=True).clamp(min=SCALE_FLOOR)
    q = round_half_away_from_zero(u * scale).clamp(-128, 127)
    return q, scale


def quantize_weights(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per tensor: ternary values T (held as float) and the scale s_w with W ~ T / s_w."""
    scale = 1.0 / w.abs().mean().clamp(min=SCALE_FLOOR)
    ternary = torch.round(w * scale).clamp(-1, 1)  # round half to even, as torch does
    return ternary, scale


class TernaryLinear(torch.autograd.Function):
    """y = (q . T^T) / (s_x * s_w) with a straight-through gradient.

    In float32 it computes (q/s_x) . (T/s_w)^T, the original implementation's arithmetic: that
    reproduces the golden logits to ~1e-7 on every row, where the integer-first order moves an
    occasional rounding tie and with it later positions by ~1e-2 (within MODEL.md's tolerances,
    which is what Trine's integer kernels rely on). In bf16 (training) it multiplies q and T
    first: small integers are exact in bf16 and the products accumulate in float32, so only the
    output is rounded. The backward pass is that of y = (q/s_x) . (T/s_w)^T with the quantisers
    taken as identity.
    """

    @staticmethod
    def forward(ctx, u, weight, matmul_dtype):
        q, activation_scale = quantize_activations(u.float())
        ternary, weight_scale = quantize_weights(weight.float())
        if matmul_dtype == torch.float32:
            y = F.linear(q / activation_scale, ternary / weight_scale)
        else:
            y = F.linear(q.to(matmul_dtype), ternary.to(matmul_dtype)).float()
            y = y / (activation_scale * weight_scale)
        ctx.matmul_dtype = matmul_dtype
        ctx.save_for_backward(q.to(torch.int8), activation_scale, ternary.to(torch.int8), weight_scale)
        return y

    @staticmethod
    def backward(ctx, grad_y):
        q, activation_scale, ternary, weight_scale = ctx.saved_tensors
        dtype = ctx.matmul_dtype
        grad_y = grad_y.float()
        grad_u = grad_weight = None
        if ctx.needs_input_grad[0]:
            grad_u = (grad_y.to(dtype) @ ternary.to(dtype)).float() / weight_scale
        if ctx.needs_input_grad[1]:
            rows = (grad_y / activation_scale).reshape(-1, grad_y.shape[-1]).to(dtype)
            grad_weight = (rows.t() @ q.reshape(-1, q.shape[-1]).to(dtype)).float()
        return grad_u, grad_weight, None


def linear_recurrence(f: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    """state_t = f_t * state_{t-1} + i_t along dim 1, state_0 = 0, as a parallel scan.

    Hillis-Steele: after the pass with stride k, (a_t, b_t) compose the k steps ending at t, so
    log2(T) elementwise passes replace T sequential ones. It multiplies the gates themselves
    (all in [0, 1]), never divides by them, so it cannot overflow: products only shrink towards 0.
    """
    a, b = f.float(), i.float()
    steps = f.shape[1]
    stride = 1
    while stride < steps:
        b = b + a * F.pad(b[:, :-stride], (0, 0, stride, 0))
        a = a * F.pad(a[:, :-stride], (0, 0, stride, 0), value=1.0)
        stride *= 2
    return b


def linear_recurrence_sequential(f: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    """The plain loop that `linear_recurrence` must equal."""
    state = torch.zeros_like(i[:, 0])
    out = []
    for t in range(i.shape[1]):
        state = f[:, t] * state + i[:, t]
        out.append(state)
    return torch.stack(out, 1)


def check_linear_recurrence(device: str = "cpu", seed: int = 0) -> float:
    """Largest relative error of the scan against the loop on random inputs of awkward sizes,
    gates spanning [0, 1] (near 0 and near 1 included). Raises if it exceeds 1e-5."""
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch, steps, channels in [(1, 1, 1), (2, 7, 3), (3, 64, 17), (2, 512, 96), (1, 1000, 5)]:
        f = torch.rand(batch, steps, channels, generator=generator, dtype=torch.float64)
        f = torch.where(torch.rand(f.shape, generator=generator, dtype=torch.float64) < 0.2, f ** 0.01, f)
        i = torch.randn(batch, steps, channels, generator=generator, dtype=torch.float64)
        reference = linear_recurrence_sequential(f, i)
        fast = linear_recurrence(f.float().to(device), i.float().to(device)).double().cpu()
        error = float((fast - reference).norm() / reference.norm())
        worst = max(worst, error)
    if worst > 1e-5:
        raise AssertionError(f"parallel scan differs from the sequential loop: rel err {worst:.3e}")
    return worst


def check_ternary_linear_gradients(device: str = "cpu", seed: int = 0) -> float:
    """Largest relative error of TernaryLinear's gradients (float32 and bf16 matmuls) against
    autograd through the textbook straight-through form u + (Q(u) - u).detach(). Raises above
    1e-5 (float32) or 2e-2 (bf16)."""
    generator = torch.Generator().manual_seed(seed)
    worst = {torch.float32: 0.0, torch.bfloat16: 0.0}
    for tokens, fan_in, fan_out in [(1, 3, 1), (5, 33, 17), (2 * 64, 96, 130)]:
        u = torch.randn(2, tokens, fan_in, generator=generator).to(device)
        w = (0.02 * torch.randn(fan_out, fan_in, generator=generator)).to(device)
        grad_y = torch.randn(2, tokens, fan_out, generator=generator).to(device)
        u_ref, w_ref = u.clone().requires_grad_(), w.clone().requires_grad_()
        q, activation_scale = quantize_activations(u_ref)
        ternary, weight_scale = quantize_weights(w_ref)
        u_ste = u_ref + (q / activation_scale - u_ref).detach()
        w_ste = w_ref + (ternary / weight_scale - w_ref).detach()
        F.linear(u_ste, w_ste).backward(grad_y)
        for dtype in worst:
            u_fast, w_fast = u.clone().requires_grad_(), w.clone().requires_grad_()
            TernaryLinear.apply(u_fast, w_fast, dtype).backward(grad_y)
            for fast, ref in [(u_fast.grad, u_ref.grad), (w_fast.grad, w_ref.grad)]:
                worst[dtype] = max(worst[dtype], float((fast - ref).norm() / ref.norm()))
    if worst[torch.float32] > 1e-5 or worst[torch.bfloat16] > 2e-2:
        raise AssertionError(f"TernaryLinear gradients differ from the reference: {worst}")
    return max(worst.values())


# ---------------------------------------------------------------------------------------------
# Modules (names = Hugging Face parameter names)


class RMSNorm(nn.Module):
    def __init__(self, size: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))
        self.eps = eps

    def forward(self, x):
        return rmsnorm(x, self.weight, self.eps)


class BitLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.norm = RMSNorm(in_features, BITLINEAR_NORM_EPS)
        self.matmul_dtype = torch.float32

    def forward(self, x):
        return TernaryLinear.apply(self.norm(x), self.weight, self.matmul_dtype)


class MLGRU(nn.Module):
    """The token mixer (`attn` in the checkpoint)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        d = config.hidden_size
        self.i_proj = BitLinear(d, d)
        self.f_proj = BitLinear(d, d)
        self.g_proj = BitLinear(d, d)
        self.g_norm = RMSNorm(d, config.rms_norm_eps)
        self.o_proj = BitLinear(d, d)

    def forward(self, h, lower_bound):
        i = self.i_proj(h)
        f = torch.sigmoid(self.f_proj(h))
        g = self.g_proj(h)
        if lower_bound is not None:
            f = lower_bound + (1 - lower_bound) * f
        i = F.silu(i) * (1 - f)
        state = linear_recurrence(f, i)
        # The gate g is normalised, the state is swished (FusedRMSNormSwishGate(g, state)).
        return self.o_proj(self.g_norm(g) * F.silu(state))


class GLU(nn.Module):
    """The channel mixer (`mlp` in the checkpoint)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.gate_proj = BitLinear(config.hidden_size, 2 * config.ffn_size)
        self.down_proj = BitLinear(config.ffn_size, config.hidden_size)

    def forward(self, h):
        a, b = self.gate_proj(h).chunk(2, dim=-1)
        return self.down_proj(F.silu(a) * b)


class Layer(nn.Module):
    def __init__(self, config: ModelConfig, residual_dropout: float):
        super().__init__()
        self.attn_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.attn = MLGRU(config)
        self.mlp_norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = GLU(config)
        self.residual_dropout = residual_dropout

    def forward(self, x, lower_bound):
        # Dropout on the residual branches is a training-time regulariser only (identity in eval
        # mode): the exported model is the plain architecture of MODEL.md.
        p = self.residual_dropout if self.training else 0.0
        x = x + F.dropout(self.attn(self.attn_norm(x), lower_bound), p)
        return x + F.dropout(self.mlp(self.mlp_norm(x)), p)


class Backbone(nn.Module):
    def __init__(self, config: ModelConfig, residual_dropout: float):
        super().__init__()
        self.config = config
        self.embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.lower_bounds = nn.Parameter(torch.zeros(config.num_hidden_layers, config.hidden_size))
        self.layers = nn.ModuleList(Layer(config, residual_dropout) for _ in range(config.num_hidden_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, ids):
        x = self.embeddings(ids).float()
        lower_bounds = None
        if self.config.use_lower_bound:
            lower_bounds = self.lower_bounds.float().softmax(0)
            lower_bounds = lower_bounds.cumsum(0) - lower_bounds[0]
        for index, layer in enumerate(self.layers):
            use_bound = lower_bounds is not None and index > 0
            x = layer(x, lower_bounds[index] if use_bound else None)
        return self.norm(x)


class HGRNBitForCausalLM(nn.Module):
    def __init__(self, config: ModelConfig, residual_dropout: float = 0.0):
        super().__init__()
        self.config = config
        self.model = Backbone(config, residual_dropout)
        self.lm_head = BitLinear(config.hidden_size, config.vocab_size)
        self.reset_parameters()

    def reset_parameters(self):
        """As the original `_init_weights`: N(0, 0.02) for matrices, ones for gains, zeros for
        the lower bounds, and the residual-branch outputs scaled down by sqrt(2 * layers)."""
        std = self.config.initializer_range
        for name, parameter in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(parameter)
            elif name == "model.lower_bounds":
                nn.init.zeros_(parameter)
            else:
                nn.init.normal_(parameter, mean=0.0, std=std)
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                with torch.no_grad():
                    parameter /= math.sqrt(2 * self.config.num_hidden_layers)

    def set_matmul_dtype(self, dtype: torch.dtype):
        for module in self.modules():
            if isinstance(module, BitLinear):
                module.matmul_dtype = dtype

    def forward(self, ids):
        return self.lm_head(self.model(ids))

    def parameter_counts(self) -> dict:
        ternary = sum(m.weight.numel() for m in self.modules() if isinstance(m, BitLinear))
        embedding = self.model.embeddings.weight.numel()
        total = sum(p.numel() for p in self.parameters())
        return {"total": total, "ternary": ternary, "embedding": embedding, "other": total - ternary - embedding}


# ---------------------------------------------------------------------------------------------
# Hugging Face directory I/O

SAFETENSORS_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def load_hf(directory: str, device: str = "cpu") -> HGRNBitForCausalLM:
    """Reads config.json and model.safetensors (or a sharded index) into an fp32 model."""
    from safetensors.torch import load_file

    with open(os.path.join(directory, "config.json")) as file:
        config = ModelConfig.from_hf(json.load(file))
    index_path = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as file:
            shards = sorted(set(json.load(file)["weight_map"].values()))
    else:
        shards = ["model.safetensors"]
    state = {}
    for shard in shards:
        state.update(load_file(os.path.join(directory, shard)))
    model = HGRNBitForCausalLM(config)
    model.load_state_dict({name: tensor.float() for name, tensor in state.items()}, strict=True)
    return model.to(device)


def ternary_equivalent(weight: torch.Tensor) -> torch.Tensor:
    """A weight with three values {-c, 0, c} that BitLinear quantises to the same ternary values T
    and the same scale as `weight`: c * density = mean |W| = 1 / s_w, so c = 1 / (s_w * density),
    and round(±c * s_w) = round(±1 / density) clamps to ±1 since density <= 1."""
    ternary, scale = quantize_weights(weight.float())
    density = ternary.abs().mean().clamp(min=1.0 / ternary.numel())
    return ternary / (scale * density)


def save_hf(
    model: HGRNBitForCausalLM, directory: str, dtype_name: str, shard_max_bytes: int, ternary: bool = False
) -> list[str]:
    """Writes config.json and the weights as `dtype_name`, sharded in the Hugging Face layout
    (model-0000k-of-0000n.safetensors + model.safetensors.index.json) when they exceed
    `shard_max_bytes`. Returns the weight files written. BitLinear weights are the latent ones, or
    with `ternary` their `ternary_equivalent`: the same model for inference, and three values per
    matrix compress to ~1.6 bits a weight (what lets a large export leave the GPU machine)."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    dtype = SAFETENSORS_DTYPES[dtype_name]
    bitlinear = {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, BitLinear)}
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach()
        if ternary and name in bitlinear:
            tensor = ternary_equivalent(tensor)
        state[name] = tensor.to("cpu", dtype).contiguous()
    with open(os.path.join(directory, "config.json"), "w") as file:
        json.dump(model.config.to_hf(dtype_name), file, indent=2)
        file.write("\n")
    shards, current, current_bytes = [], {}, 0
    for name in sorted(state):
        size = state[name].numel() * state[name].element_size()
        if size > shard_max_bytes:
            raise ValueError(f"{name} alone ({size} bytes) exceeds the shard limit")
        if current and current_bytes + size > shard_max_bytes:
            shards.append(current)
            current, current_bytes = {}, 0
        current[name] = state[name]
        current_bytes += size
    shards.append(current)
    metadata = {"format": "pt"}
    if len(shards) == 1:
        save_file(shards[0], os.path.join(directory, "model.safetensors"), metadata=metadata)
        return ["model.safetensors"]
    names = [f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors" for k in range(len(shards))]
    weight_map = {}
    for shard_name, shard in zip(names, shards):
        save_file(shard, os.path.join(directory, shard_name), metadata=metadata)
        weight_map.update({tensor_name: shard_name for tensor_name in shard})
    total = sum(t.numel() * t.element_size() for t in state.values())
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as file:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, file, indent=2)
        file.write("\n")
    return names
