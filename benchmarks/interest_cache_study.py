"""Which interest cache scales: every candidate design against today's, on a sample of rows.

Usage:
    python benchmarks/interest_cache_study.py --dataset amazon-beauty --data-path DIR \
        --s2idm PATH [--config benchmarks/configs/amazon-beauty.yaml] [--rows 20000]

Today's cache holds, for every history row, S2IDM's generalised vector g [q] in float16. On
``--rows`` random history rows of the data set (raw prefix vectors as the cache computes them),
with a trained S2IDM artifact, this prints for each candidate the bytes per row, the seconds
per 1,000 rows to build it, and its error against g computed in float32:

- ``rel err``: ||g_hat - g|| / ||g - mean(g)|| over the rows, the error measured against
  what tells one row from another (0 means exact);
- ``cos min``: the smallest cosine similarity of (g_hat - mean) and (g - mean) of one row.

Candidates: g in float16 (today's); S2IDM's last hidden activation ("codes", from which g is
one frozen linear map away) in float16 and int8, computed by the reverse pass in the hidden
space, and computed in bfloat16; a PCA of the codes (fitted on half of the rows, scored on the other half); the top-k
entries of g - mean(g); fewer reverse steps.
"""

import argparse
import time

import torch

from recbole_seedrec.config import Config
from recbole_seedrec.data.dataset import create_dataset
from recbole_seedrec.model.seedrec.interest import prefix_vectors_at
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from recbole_seedrec.model.seedrec.s2idm_artifact import read_s2idm_artifact
from recbole_seedrec.model.seedrec.sememe_interest import sememe_args, sememe_table_for


def sample_vectors(args):
    """Raw prefix vectors [rows, q] of ``args.rows`` random history rows, float16-rounded."""
    cmd = [f"--data_path={args.data_path}", "--show_progress=False"]
    config = Config("SeeDRecSASRec", args.dataset, args.config or None, cmd_args=cmd)
    train, _, _ = create_dataset(config).build()
    histories, table = train.user_histories, sememe_table_for(config, train)
    total = int(histories.offsets[-1])
    rows = torch.randperm(total, generator=torch.Generator().manual_seed(0))[: args.rows]
    rows = rows.sort().values
    vectors = prefix_vectors_at(histories, table, rows, **sememe_args(config))
    return vectors.to(torch.float16).float(), total, table.q


def load_s2idm(path):
    artifact = read_s2idm_artifact(path)
    s2idm = S2IDM(**artifact["hyperparameters"])
    s2idm.load_state_dict(artifact["state_dict"])
    return s2idm.eval()


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def errors(estimate, exact, mean):
    deviation, error = exact - mean, estimate - exact
    cos = torch.nn.functional.cosine_similarity(estimate - mean, deviation, dim=1)
    return (error.norm() / deviation.norm()).item(), cos.min().item()


def int8(codes):
    return (codes * 127).round().clamp(-127, 127) / 127


def top_k(deviation, k):
    index = deviation.abs().topk(k, dim=1).indices
    return torch.zeros_like(deviation).scatter_(1, index, deviation.gather(1, index))


@torch.no_grad()
def study(args):
    x0, total_rows, q = sample_vectors(args)
    s2idm = load_s2idm(args.s2idm)
    readout = s2idm.denoiser.layers[-1]
    hidden = readout.in_features
    batches = x0.split(2048)

    def run(fn):
        out, seconds = timed(lambda: torch.cat([fn(b) for b in batches]))
        return out, seconds * 1000 / len(x0)

    exact, exact_s = run(s2idm.generalise)
    codes, codes_s = run(s2idm.generalise_codes)
    mean = exact.mean(0)
    report = [("g float16 (today)", 2 * q, exact_s, exact.half().float())]
    report.append(("codes float16", 2 * hidden, codes_s, readout(codes.half().float())))
    report.append(("codes int8", hidden, codes_s, readout(int8(codes))))
    half = len(codes) // 2
    low_end, high_end = codes[:half].amin(0), codes[:half].amax(0)
    step = (high_end - low_end).clamp(min=1e-8) / 255
    levels = ((codes - low_end) / step).round().clamp(0, 255)
    per_unit = readout(low_end + levels * step)
    report.append(("codes int8 over each unit's range (held-out half)", hidden, codes_s, per_unit))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, low_s = run(s2idm.generalise_codes)
    report.append(("codes int8, computed in bfloat16", hidden, low_s, readout(int8(low.float()))))
    center = codes[:half].mean(0)
    _, _, vh = torch.linalg.svd(codes[:half] - center, full_matrices=False)
    for r in args.pca:
        basis = vh[:r]
        projected = (codes - center) @ basis.T
        approx = readout(center + projected.half().float() @ basis)
        report.append((f"codes PCA {r} float16 (held-out half)", 2 * r, codes_s, approx))
    for k in args.top_k:
        approx = mean + top_k(exact - mean, k).half().float()
        report.append((f"top-{k} of g - mean (float16 + int16 index)", 4 * k, exact_s, approx))
    for steps in args.steps:
        fewer, fewer_s = run(lambda b, s=steps: s2idm.generalise(b, s))
        report.append((f"{steps} reverse steps of {s2idm.diffusion.steps}", 2 * q, fewer_s, fewer))

    print(f"{args.dataset}: q = {q}, S2IDM hidden = {hidden}, {total_rows:,} history rows, "
          f"{len(x0):,} sampled, {torch.get_num_threads()} thread(s)")  # fmt: skip
    print(
        "| design | bytes/row | of today | cache GiB | s per 1,000 rows | build vs today "
        "| rel err | cos min |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, size, seconds, estimate in report:
        # the held-out half alone where fitted on the first half
        part = slice(half, None) if "held-out" in name else slice(None)
        err, cos = errors(estimate[part], exact[part], mean)
        print(
            f"| {name} | {size:,} | {size / (2 * q):.3f} | {size * total_rows / 2**30:.2f} | "
            f"{seconds:.3f} | {seconds / exact_s:.2f} | {err:.2e} | {cos:.4f} |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data-path", required=True)
    parser.add_argument("--s2idm", required=True, help="a trained S2IDM artifact of the data set")
    parser.add_argument("--config", nargs="*", default=[])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--pca", type=int, nargs="*", default=[64, 128, 256])
    parser.add_argument("--top-k", type=int, nargs="*", default=[32, 64, 128])
    parser.add_argument("--steps", type=int, nargs="*", default=[1, 2, 5])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    study(args)


if __name__ == "__main__":
    main()
