"""``python -m inference label-issues``: confident learning over the training split's colour tags.

Out-of-fold probabilities come from a logistic regression fitted K times on the other folds,
over one of two probes:

- ``imagenet``: features that owe nothing to the tags (the ImageNet EfficientNet-Lite0 embedding
  of the whole image, square-padded on white, plus the CIELAB statistics of the non-white pixels);
  weak (about 55% accurate on apparel), so its marks are far from clean.
- ``members`` (default): the embeddings of the shipped classifier's members (the input of their class
  heads), each on its own view through the pipeline. Much stronger, but those networks were
  fine-tuned on the same tags, so only the head is out of fold: a tag they memorised is missed.

``cleanlab.filter.find_label_issues`` then ranks the likely tag errors. The output CSV
(``id,tag,suggested,self_confidence,issue_rank,weight``) is what ``train-classifier --sample-weights``
reads to down-weight the likely errors.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..segment import DEFAULT_SEGMENTER

WHITE_L, WHITE_CHROMA = 92.0, 6.0
# inverse L2 strength of the out-of-fold regression, per probe (the members' embeddings are wider and stronger)
REGULARISATION = {"imagenet": 0.05, "members": 0.01}


def add_arguments(p) -> None:
    p.add_argument("--data", default="../shared/data/fashion-products")
    p.add_argument("--splits", nargs="+", default=["train"])
    p.add_argument("--classes-from", default="colornet", help="weights whose card lists the colour classes")
    p.add_argument("--out", default="var/label-issues/train_issues.csv")
    p.add_argument("--cache", default="var/cache/label-issue-features.npz")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--issue-weight", type=float, default=0.25, help="training weight of a likely tag error")
    p.add_argument("--probe", choices=["members", "imagenet"], default="members",
                   help="features of the out-of-fold model (see the module's text)")
    p.add_argument("--regularisation", type=float, default=None,
                   help="inverse L2 strength of the logistic regression (default: per probe, "
                        + ", ".join(f"{k} {v}" for k, v in REGULARISATION.items()) + ")")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--segmenter", default=DEFAULT_SEGMENTER, help="segmenter of the members probe")
    p.add_argument("--weights-dir", default=None, help="folder with weights and model cards")
    p.add_argument("--limit", type=int, default=None, help="at most this many products (for a quick look)")


def colour_statistics(rgb: np.ndarray) -> np.ndarray:
    """Mean and quartiles of L, a, b over the pixels that are not the white studio background."""
    from ..colors.space import rgb_to_lab

    lab = rgb_to_lab(rgb[::2, ::2].reshape(-1, 3).astype(np.float64))
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    fg = lab[(lab[:, 0] < WHITE_L) | (chroma > WHITE_CHROMA)]
    fg = fg if len(fg) >= 50 else lab
    q = np.percentile(fg, [25, 50, 75], axis=0)
    return np.concatenate([fg.mean(0), q.ravel()]) / 100.0


def embed(paths: list[Path], batch_size: int) -> tuple[np.ndarray, list[int]]:
    """(features, indices of the images that could be read)."""
    import timm

    from ..classify.backbones import imagenet_state_dict
    from ..garment import whole_image_view
    from ..imageio import load_image

    model = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=0)
    full = timm.create_model("efficientnet_lite0", pretrained=False)
    model.load_state_dict(imagenet_state_dict("efficientnet_lite0", full), strict=False)
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    feats, ok = [], []
    for start in tqdm(range(0, len(paths), batch_size), desc="features", unit="batch"):
        views, stats = [], []
        for k, path in enumerate(paths[start:start + batch_size], start=start):
            try:
                rgb = load_image(path).rgb
            except Exception:  # noqa: BLE001 - an unreadable image is left out, the rest go on
                continue
            views.append(whole_image_view(rgb, 224))
            stats.append(colour_statistics(rgb))
            ok.append(k)
        if not views:
            continue
        x = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float() / 255
        with torch.inference_mode():
            emb = model((x - mean) / std).numpy()
        feats.append(np.concatenate([emb, np.array(stats) * 4.0], axis=1))
    return np.concatenate(feats), ok


def embed_members(pipeline, paths: list[Path], categories: list[str],
                  batch_size: int) -> tuple[np.ndarray, list[int]]:
    """The members' embeddings of each readable product, concatenated; (features, indices)."""
    from ..pipeline import ImageInput

    feats, ok = [], []
    for start in tqdm(range(0, len(paths), batch_size), desc="member features", unit="batch"):
        inputs = [ImageInput(path, category, str(k)) for k, (path, category)
                  in enumerate(zip(paths[start:start + batch_size], categories[start:start + batch_size]),
                               start=start)]
        _, views, usable = pipeline.analyse_batch(inputs)
        if usable:
            feats.append(np.concatenate(pipeline.classifier.member_features(views), axis=1))
            ok += [start + i for i in usable]
    return np.concatenate(feats), ok


def out_of_fold(features: np.ndarray, labels: np.ndarray, folds: int, seed: int = 0,
                regularisation: float = REGULARISATION["imagenet"]) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import StandardScaler

    probs = np.zeros((len(labels), labels.max() + 1))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(features, labels):
        scaler = StandardScaler().fit(features[train])
        clf = LogisticRegression(C=regularisation, max_iter=600)
        clf.fit(scaler.transform(features[train]), labels[train])
        probs[np.ix_(test, clf.classes_)] = clf.predict_proba(scaler.transform(features[test]))
    return probs


def _members_pipeline(args):
    from ..pipeline import Pipeline, PipelineConfig

    pipeline = Pipeline(PipelineConfig(segmenter=args.segmenter), weights_dir=args.weights_dir)
    if not hasattr(pipeline.classifier, "member_features"):
        raise SystemExit("the members probe needs the timm classifier")
    return pipeline


def run(args) -> int:
    from cleanlab.filter import find_label_issues

    from ..evaluate.study import readings_tag
    from ..train.cls_data import read_catalogue
    from ..weights import load_card

    classes = load_card(args.classes_from)["classes"]
    index = {c: i for i, c in enumerate(classes)}
    rows = [r for r in read_catalogue(args.data, ("Apparel",), tuple(args.splits)) if r.color in index]
    rows = rows[:args.limit] if args.limit else rows
    cache = Path(args.cache)
    cache = cache.with_name(f"{cache.stem}-{args.probe}{cache.suffix}")
    ids = [r.id for r in rows]
    pipeline = _members_pipeline(args) if args.probe == "members" else None
    tag = "imagenet" if pipeline is None else readings_tag(pipeline)  # what the features depend on
    data = np.load(cache) if cache.is_file() else None
    if data is not None and list(data["ids"]) == ids and "tag" in data and str(data["tag"]) == tag:
        features, ok = data["features"], list(data["ok"])
        print(f"features from {cache}")
    else:
        features, ok = (embed([r.path for r in rows], args.batch_size) if pipeline is None
                        else embed_members(pipeline, [r.path for r in rows], [r.category for r in rows],
                                           args.batch_size))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, ids=ids, features=features, ok=ok, tag=tag)
    rows = [rows[k] for k in ok]
    present = sorted({r.color for r in rows}, key=index.get)  # classes with products, in card order
    compact = {c: i for i, c in enumerate(present)}
    labels = np.array([compact[r.color] for r in rows])
    strength = REGULARISATION[args.probe] if args.regularisation is None else args.regularisation
    probs = out_of_fold(features, labels, args.folds, regularisation=strength)
    issues = find_label_issues(labels, probs, filter_by="prune_by_noise_rate",
                               return_indices_ranked_by="self_confidence")
    flagged = set(issues.tolist())
    rank = {k: n + 1 for n, k in enumerate(issues.tolist())}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "tag", "suggested", "self_confidence", "issue_rank", "weight"])
        for k, r in enumerate(rows):
            w.writerow([r.id, r.color, present[int(probs[k].argmax())], f"{probs[k, labels[k]]:.4f}",
                        rank.get(k, ""), args.issue_weight if k in flagged else 1.0])
    accuracy = float((probs.argmax(1) == labels).mean())
    summary = {"probe": args.probe, "products": len(rows), "out_of_fold_accuracy": round(accuracy, 4),
               "issues": len(flagged),
               "issue_share": round(len(flagged) / len(rows), 4), "out": str(out)}
    print(json.dumps(summary))
    return 0
