"""An OpenVLA-style generalist (torch + transformers + peft), small enough for a CPU: ``openvla-style-tiny``.

The OpenVLA recipe (Kim et al., "OpenVLA: An Open-Source Vision-Language-Action Model", 2024) on a toy-sized VLM;
it is **not** OpenVLA and has none of its weights:

* a Llava-family image-text-to-text model built offline from configs: a tiny SigLIP vision tower, a linear-GELU
  projector and a tiny Llama language model (``LlavaForConditionalGeneration``; it saves with ``save_pretrained``
  and reloads with ``AutoModelForImageTextToText``, the class a real OpenVLA-style checkpoint in a local folder
  loads through, with ``trust_remote_code`` for checkpoints that ship their own code);
* a byte-level BPE tokenizer trained here on the task instructions, with 256 action tokens appended as the **last**
  vocabulary ids (OpenVLA overwrites the 256 least used ids of Llama's vocabulary; here they are reserved);
* actions: q01/q99-normalized (the gripper passes through), 256 uniform bins over [-1, 1], one token per dimension
  (:class:`rldg_ros.vla.tokenizer.ActionTokenizer`); prompt ``In: What action should the robot take to
  {instruction}?\\nOut:``; cross-entropy on the action tokens only;
* 90% random crops in training, the centre crop at inference;
* fine-tuning with LoRA rank 32 on every linear layer (alpha = min(rank, 16), dropout 0), lr 5e-4 constant.

A checkpoint directory holds the model (``save_pretrained``; or a LoRA adapter in ``adapter/`` on top of a
``base`` it names), the processor + tokenizer, ``dataset_statistics.json`` and ``rldg_vla.json`` (name, action
token range, normalization, provenance).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.vla.normalize import Normalizer
from rldg_ros.vla.tokenizer import ActionTokenizer

NAME = "openvla-style-tiny"
FORMAT = "rldg-openvla-style"
PROMPT = "In: What action should the robot take to {instruction}?\nOut:"
IMAGE_TOKEN = "<image>"
SPECIALS = ["<pad>", "<unk>", "<s>", "</s>", IMAGE_TOKEN]
GRIPPER = (6,)
CROP = 0.9  # fraction of the image area a training crop keeps (OpenVLA: 90%)


@dataclass
class VLAConfig:
    image_size: int = 64
    patch: int = 8
    vision_hidden: int = 64
    vision_layers: int = 2
    vision_heads: int = 2
    text_hidden: int = 128
    text_layers: int = 2
    text_heads: int = 4
    text_vocab: int = 400  # BPE vocabulary trained on the instructions (before the 256 action tokens)
    n_bins: int = 256
    max_length: int = 256
    proprio_dim: int = 0  # > 0: the robot state is an input (after the prompt), as ``proprio_mode`` says
    proprio_mode: str = "tokens"  # "tokens": binned like the actions, one token per dimension; "projector": one
    #                               input embedding from an MLP on the q01/q99-normalized state (OpenVLA-OFT's)
    decode: str = "argmax"  # action tokens: "argmax" over the action tokens, or "mean": the expected bin centre


def build_tokenizer(corpus: list[str], cfg: VLAConfig):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=cfg.text_vocab, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([PROMPT.format(instruction=t) for t in corpus], trainer)
    tok.add_special_tokens([f"<act_{i}>" for i in range(cfg.n_bins)])  # the last ids of the vocabulary
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", extra_special_tokens={"image_token": IMAGE_TOKEN})


def build_model(cfg: VLAConfig, tokenizer, seed: int = 0):
    import torch
    from transformers import (
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        SiglipImageProcessorPil,
        SiglipVisionConfig,
    )

    torch.manual_seed(seed)
    vocab = len(tokenizer)
    vc = SiglipVisionConfig(hidden_size=cfg.vision_hidden, intermediate_size=2 * cfg.vision_hidden,
                            num_hidden_layers=cfg.vision_layers, num_attention_heads=cfg.vision_heads,
                            image_size=cfg.image_size, patch_size=cfg.patch)
    tc = LlamaConfig(hidden_size=cfg.text_hidden, intermediate_size=2 * cfg.text_hidden,
                     num_hidden_layers=cfg.text_layers, num_attention_heads=cfg.text_heads,
                     num_key_value_heads=cfg.text_heads, vocab_size=vocab, max_position_embeddings=cfg.max_length,
                     pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                     eos_token_id=tokenizer.eos_token_id)
    mc = LlavaConfig(vision_config=vc, text_config=tc, image_token_index=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
                     vision_feature_layer=-1, vision_feature_select_strategy="full", projector_hidden_act="gelu")
    model = LlavaForConditionalGeneration(mc)
    processor = LlavaProcessor(image_processor=SiglipImageProcessorPil(size={"height": cfg.image_size,
                                                                           "width": cfg.image_size}),
                               tokenizer=tokenizer, patch_size=cfg.patch, vision_feature_select_strategy="full",
                               image_token=IMAGE_TOKEN, num_additional_image_tokens=0)
    return model, processor


def crop(img: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """A square crop of CROP of the area: random in training (``rng``), the centre at inference."""
    h, w = img.shape[:2]
    ch, cw = int(round(h * np.sqrt(CROP))), int(round(w * np.sqrt(CROP)))
    if rng is None:
        y, x = (h - ch) // 2, (w - cw) // 2
    else:
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return img[y:y + ch, x:x + cw]


class VLA:
    """Model + processor + action tokenizer + normalizer: batches for training, actions at inference."""

    def __init__(self, model, processor, norm: Normalizer | None, cfg: VLAConfig, meta: dict | None = None):
        self.model, self.processor, self.norm, self.cfg = model, processor, norm, cfg
        self.tokenizer = processor.tokenizer
        self.actions = ActionTokenizer(len(self.tokenizer), cfg.n_bins)
        self.meta = meta or {}
        # the instruction words the model was trained on (None: any, e.g. a Hugging Face folder with a pretrained
        # language model): other words are left out of the prompt at inference (``prompt_instruction``)
        words = self.meta.get("instruction_words")
        self.known_words: set[str] | None = set(words) if words else None
        self.name = NAME + (" (+proprio)" if cfg.proprio_dim else "")
        self.uses_state = bool(cfg.proprio_dim)
        self.state_norm: Normalizer | None = None  # set with proprio_dim (from the dataset statistics)
        self.projector = None
        if cfg.proprio_dim and cfg.proprio_mode == "projector":
            import torch

            self.projector = torch.nn.Sequential(torch.nn.Linear(cfg.proprio_dim, cfg.text_hidden), torch.nn.GELU(),
                                                 torch.nn.Linear(cfg.text_hidden, cfg.text_hidden))

    def _norm_state(self, state) -> np.ndarray:
        st = np.asarray(state, np.float64).ravel()
        if st.shape != (self.cfg.proprio_dim,) or not np.all(np.isfinite(st)):
            raise ValueError(f"{self.name}: needs a finite {self.cfg.proprio_dim}-D robot state, got shape {st.shape}")
        if self.state_norm is None:
            raise ValueError(f"{self.name}: no proprio statistics loaded")
        return np.clip(self.state_norm.normalize(st[None])[0], -1.0, 1.0)

    def state_tokens(self, state) -> list[int]:
        """The robot state as proprio tokens (q01/q99 bounds -> the action bins); [] without proprio."""
        if not self.cfg.proprio_dim:
            return []
        if self.projector is not None:  # one placeholder position; its embedding comes from the projector
            self._norm_state(state)
            return [self.tokenizer.pad_token_id]
        return self.actions.encode(self._norm_state(state)).tolist()

    def forward(self, batch: dict, **kw):
        """The model on a batch from ``training_batch`` (the proprio embedding put in place with the projector)."""
        b = dict(batch)
        prop, at = b.pop("proprio", None), b.pop("proprio_at", None)
        if self.projector is None or prop is None:
            return self.model(**b, **kw)
        import torch

        ids = b.pop("input_ids")
        emb = self.model.get_input_embeddings()(ids)
        emb = emb.clone()
        emb[torch.arange(len(ids)), at] = self.projector(prop).to(emb.dtype)
        return self.model(inputs_embeds=emb, **b, **kw)

    # -- batches ---------------------------------------------------------------------------------------------------
    def prompt_ids(self, images: list[np.ndarray], instructions: list[str], rng=None):
        from PIL import Image

        pil = [Image.fromarray(crop(im, rng)) for im in images]
        text = [IMAGE_TOKEN + PROMPT.format(instruction=i) for i in instructions]
        return self.processor(images=pil, text=text, return_tensors="pt", padding=True)

    def training_batch(self, images, instructions, norm_actions: np.ndarray, rng, states=None):
        """Prompt (+ proprio tokens) + 7 action tokens + </s>, right-padded; labels only on the action tokens.
        ``rng``: the crops' generator, or one per row (data-parallel ranks then crop a row as one process would)."""
        import torch

        rows, pix, props = [], [], []
        states = [None] * len(images) if states is None else states
        rngs = rng if isinstance(rng, list) else [rng] * len(images)  # one per row: a row's crop is its own
        for im, ins, a, st, r in zip(images, instructions, norm_actions, states, rngs, strict=True):
            enc = self.prompt_ids([im], [ins], r)
            ids = enc["input_ids"][0].tolist() + (self.state_tokens(st) if self.cfg.proprio_dim else [])
            act = self.actions.encode(a).tolist()
            rows.append((ids + act + [self.tokenizer.eos_token_id], len(ids)))
            pix.append(enc["pixel_values"][0])
            if self.projector is not None:
                props.append(self._norm_state(st))
        n = max(len(r) for r, _ in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), n), pad, dtype=torch.long)
        attn = torch.zeros((len(rows), n), dtype=torch.long)
        labels = torch.full((len(rows), n), -100, dtype=torch.long)
        for k, (r, p) in enumerate(rows):
            input_ids[k, :len(r)] = torch.tensor(r)
            attn[k, :len(r)] = 1
            labels[k, p:p + 7] = torch.tensor(r[p:p + 7])  # the action tokens
        out = {"input_ids": input_ids, "attention_mask": attn, "pixel_values": torch.stack(pix), "labels": labels}
        if self.projector is not None:
            out["proprio"] = torch.tensor(np.stack(props), dtype=torch.float32)
            out["proprio_at"] = torch.tensor([p - 1 for _, p in rows])  # the placeholder just before the actions
        return out

    # -- inference -------------------------------------------------------------------------------------------------
    def prompt_instruction(self, instruction: str) -> str:
        """The instruction without the words this model never saw in training. A tiny model learns its word
        embeddings from the fine-tuning instructions alone, so an unseen connector's name ("type-c") enters as
        untrained embeddings that throw the policy off (Type-C 1/10 with its own instruction, 7/10 without the
        unseen word, docs/generalists.md); OpenVLA's pretrained Llama embeds every word, so a Hugging Face folder
        keeps the whole instruction."""
        if self.known_words is None:
            return instruction
        return " ".join(w for w in instruction.split() if w.lower() in self.known_words)

    def predict_tokens(self, image: np.ndarray, instruction: str, state=None, constrained: bool = True):
        """Greedy decoding of 7 tokens, restricted to the action tokens (``constrained``) or over the whole
        vocabulary; -> (token ids (7,), the action-token probabilities (7, n_bins - 1))."""
        import torch

        enc = self.prompt_ids([image], [self.prompt_instruction(instruction)], None)
        ids, attn, pix = enc["input_ids"], enc["attention_mask"], enc["pixel_values"]
        first = {"pixel_values": pix}
        if self.cfg.proprio_dim:
            extra = torch.tensor([self.state_tokens(state)], dtype=ids.dtype)
            ids = torch.cat([ids, extra], dim=1)
            attn = torch.cat([attn, torch.ones_like(extra, dtype=attn.dtype)], dim=1)
            if self.projector is not None:
                first.update(proprio=torch.tensor(self._norm_state(state)[None], dtype=torch.float32),
                             proprio_at=torch.tensor([ids.shape[1] - 1]))
        lo = self.actions.first_id
        out, probs = [], []
        past = None
        self.model.eval()
        if self.projector is not None:
            self.projector.eval()
        with torch.no_grad():
            res = self.forward({"input_ids": ids, "attention_mask": attn, **first}, use_cache=True)
            for i in range(7):
                past = res.past_key_values
                logits = res.logits[0, -1]
                p = torch.softmax(logits[lo:].float(), -1)
                probs.append(p.numpy())
                nxt = (int(torch.argmax(p)) + lo) if constrained else int(torch.argmax(logits))
                out.append(nxt)
                attn = torch.cat([attn, torch.ones((1, 1), dtype=attn.dtype)], dim=1)
                if i < 6:
                    res = self.model(input_ids=torch.tensor([[nxt]]), attention_mask=attn, past_key_values=past,
                                     use_cache=True)
        return np.array(out), np.stack(probs)

    def predict_normalized(self, observation: dict, instruction: str) -> np.ndarray:
        ids, probs = self.predict_tokens(observation["image"], instruction, observation.get("state"))
        if self.cfg.decode == "mean":  # the expected bin centre under the action-token distribution
            centers = self.actions.decode(np.arange(self.actions.first_id, self.actions.vocab_size))
            return (probs @ centers).astype(np.float32)
        return self.actions.decode(ids)

    def act(self, observation: dict, instruction: str) -> np.ndarray:
        from rldg_ros.vla.policy import check_image

        check_image(observation)
        y = self.predict_normalized(observation, instruction)
        return np.clip(self.norm.unnormalize(y), -1.0, 1.0)

    def reset(self) -> None:
        pass

    # -- checkpoints -----------------------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, stats: dict, info: dict, merged: bool = True) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        is_peft = hasattr(self.model, "peft_config")
        if is_peft:
            self.model.save_pretrained(out / "adapter")
            if merged:
                _merged_copy(self.model).save_pretrained(out / "merged")
        else:
            self.model.save_pretrained(out / "model")
        self.processor.save_pretrained(out / "processor")
        if self.projector is not None:
            import torch

            torch.save(self.projector.state_dict(), out / "proprio_projector.pt")
        (out / "dataset_statistics.json").write_text(json.dumps(stats, indent=1))
        meta = {"format": FORMAT, "name": NAME, "vla": asdict(self.cfg), "lora": is_peft,
                "action_token_ids": [self.actions.first_id, self.actions.vocab_size - 1],
                "normalization": {"type": "bounds_q99", "skip": list(GRIPPER), "key": "action"}, **info}
        (out / "rldg_vla.json").write_text(json.dumps(meta, indent=1))
        return out


def _merged_copy(peft_model):
    """A merged (LoRA folded in) copy, leaving the trainable adapter model as it is."""
    import copy

    return copy.deepcopy(peft_model).merge_and_unload()


def instruction_words(instructions) -> list[str]:
    """The words of training instructions, as ``VLA.prompt_instruction`` compares them."""
    return sorted({w.lower() for t in instructions for w in t.split()})


def load(path: str | Path, trainable_lora: bool = False) -> VLA:
    """A checkpoint directory of ours: the full model, or a LoRA adapter on its ``base`` (``merged/`` if present)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    p = Path(path)
    meta_file = p / "rldg_vla.json"
    if not meta_file.exists():
        if (p / "config.json").exists():
            other = json.loads((p / "config.json").read_text()).get("format", "")
            if str(other).startswith("rldg-"):
                raise ValueError(f"{p}: a {other} checkpoint, not an openvla-style one (use the matching --model)")
            return load_hf_folder(p)
        raise FileNotFoundError(f"{p}: not an openvla-style checkpoint (no rldg_vla.json) nor a Hugging Face "
                                "model folder (no config.json)")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_file}: format {meta.get('format')!r}, expected {FORMAT!r}")
    cfg = VLAConfig(**meta["vla"])
    processor = AutoProcessor.from_pretrained(p / "processor")
    if meta["lora"] and (trainable_lora or not (p / "merged").exists()):
        from peft import PeftModel

        base = load(meta["base"]).model
        model = PeftModel.from_pretrained(base, p / "adapter", is_trainable=trainable_lora)
    else:
        model = AutoModelForImageTextToText.from_pretrained(p / ("merged" if meta["lora"] else "model"))
    stats = json.loads((p / "dataset_statistics.json").read_text())
    norm = Normalizer.from_stats(stats, "action", mode="bounds_q99", skip=GRIPPER)
    vla = VLA(model, processor, norm, cfg, meta)
    if cfg.proprio_dim:
        vla.state_norm = Normalizer.from_stats(stats, "proprio", mode="bounds_q99")
    if vla.projector is not None:
        import torch

        vla.projector.load_state_dict(torch.load(p / "proprio_projector.pt", weights_only=True))
    return vla


def add_lora(vla: VLA, rank: int = 32):
    from peft import LoraConfig, get_peft_model

    lcfg = LoraConfig(r=rank, lora_alpha=min(rank, 16), lora_dropout=0.0, target_modules="all-linear")
    vla.model = get_peft_model(vla.model, lcfg)
    return vla


def load_hf_folder(path: str | Path, unnorm_key: str | None = None) -> VLA:
    """A Hugging Face image-text-to-text model folder (config.json + weights + processor files): loaded with
    ``AutoModelForImageTextToText`` / ``AutoProcessor``, with ``trust_remote_code`` when the folder ships its own
    code (``*.py``, as OpenVLA checkpoints do). Action statistics come from ``dataset_statistics.json`` in the folder
    or from the config's ``norm_stats[unnorm_key]`` (OpenVLA's convention). The model must use the Llava-style
    ``<image>`` prompt and the last 256 ids as action tokens; a real OpenVLA (Prismatic) checkpoint also needs its
    remote code's dependencies (timm, the CUDA torch build: an optional extra, see docs/GUIDE.md)."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    p = Path(path)
    trust = any(p.glob("*.py"))
    model = AutoModelForImageTextToText.from_pretrained(p, trust_remote_code=trust)
    processor = AutoProcessor.from_pretrained(p, trust_remote_code=trust)
    if (p / "dataset_statistics.json").exists():
        stats = json.loads((p / "dataset_statistics.json").read_text())
    else:
        norm_stats = getattr(model.config, "norm_stats", None) or {}
        if not norm_stats:
            raise FileNotFoundError(f"{p}: no dataset_statistics.json and no norm_stats in config.json: the actions "
                                    "cannot be un-normalized")
        key = unnorm_key or (next(iter(norm_stats)) if len(norm_stats) == 1 else None)
        if key not in norm_stats:
            raise KeyError(f"{p}: statistics for several datasets {sorted(norm_stats)}: pass unnorm_key")
        stats = norm_stats[key]
    if "action" not in stats and len(stats) == 1:  # {dataset_name: statistics}
        stats = next(iter(stats.values()))
    vc = model.config.vision_config
    cfg = VLAConfig(image_size=int(vc.image_size), patch=int(vc.patch_size))
    norm = Normalizer.from_stats(stats, "action", mode="bounds_q99", skip=GRIPPER)
    return VLA(model, processor, norm, cfg, {"format": "huggingface", "path": str(p), "trust_remote_code": trust})
