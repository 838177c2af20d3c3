"""The compact interest cache: S2IDM's reverse pass in its hidden space, int8 codes, and the
readout folded into the first linear layer that reads the interest."""

import pytest
import torch

from recbole_seedrec.config import ConfigError
from recbole_seedrec.model.seedrec.interest import (
    CODE_SCALE,
    InterestCache,
    PrincipalProjection,
    block_rows,
    linear_after,
    prefix_sememe_vectors,
    prefix_vectors_in_blocks,
    user_chunks,
)
from recbole_seedrec.model.seedrec.s2idm import S2IDM
from tests.seedrec_data import NAME, build_model, make_config, split_rows

SMALL_S2IDM = {"s2idm_hidden_dims": [4]}  # narrower than the 18 sememes: codes are cheaper


@pytest.mark.parametrize("hidden_dims", [[40], [30, 20]])
@pytest.mark.parametrize("steps", [None, 1, 3])
def test_codes_pass_gives_the_reverse_process_through_the_readout(hidden_dims, steps):
    torch.manual_seed(0)
    s2idm = S2IDM(q=60, hidden_dims=hidden_dims, steps=5)
    x0 = torch.rand(32, 60) * (torch.rand(32, 60) < 0.2)
    codes = s2idm.generalise_codes(x0, steps)
    assert codes.shape == (32, hidden_dims[-1]) and bool((codes.abs() <= 1).all())
    expected = s2idm.generalise(x0, steps)
    torch.testing.assert_close(s2idm.denoiser.readout(codes), expected, rtol=1e-5, atol=1e-6)


def test_codes_pass_keeps_the_training_mode_and_checks_steps():
    s2idm = S2IDM(q=10, hidden_dims=[4], steps=3).train()
    s2idm.generalise_codes(torch.rand(2, 10))
    assert s2idm.training
    with pytest.raises(ValueError, match="steps must be an integer in"):
        s2idm.generalise_codes(torch.rand(2, 10), 4)


def test_codes_are_used_only_where_cheaper_and_narrower():
    assert S2IDM(q=4821, hidden_dims=[1000]).codes_are_cheaper()  # Amazon Beauty
    assert S2IDM(q=1265, hidden_dims=[1000]).codes_are_cheaper()  # Home
    assert not S2IDM(q=19, hidden_dims=[1000]).codes_are_cheaper()  # ml-100k's genres
    assert not S2IDM(q=900, hidden_dims=[1000]).codes_are_cheaper()


def test_a_denoiser_without_hidden_layer_keeps_the_vectors():
    s2idm = S2IDM(q=30, hidden_dims=[], steps=3)
    assert not s2idm.codes_are_cheaper()
    with pytest.raises(ValueError, match="needs a denoiser with a hidden layer"):
        s2idm.generalise_codes(torch.rand(2, 30))


def test_linear_after_folds_the_readout_and_trains_the_linear_only():
    torch.manual_seed(0)
    linear, readout = torch.nn.Linear(12, 5), torch.nn.Linear(4, 12).requires_grad_(False)
    codes = torch.rand(7, 4) * 2 - 1
    torch.testing.assert_close(linear_after(linear, codes, readout), linear(readout(codes)))
    linear_after(linear, codes, readout).sum().backward()
    assert linear.weight.grad is not None and readout.weight.grad is None
    vectors = readout(codes)
    assert torch.equal(linear_after(linear, vectors), linear(vectors))


def ready(synthetic, data, form, model="SeeDRecSASRec", **options):
    config = make_config(
        model, synthetic["root"], NAME, interest_cache=form, **SMALL_S2IDM, **options
    )
    built = build_model(config, data)
    built.freeze_s2idm()
    built.build_interest_cache()
    return built.eval()


@pytest.fixture(scope="module")
def both(synthetic, data):
    return ready(synthetic, data, "compact"), ready(synthetic, data, "dense")


def test_compact_cache_stores_int8_codes_a_fraction_of_the_dense_one(both):
    compact, dense = both
    rows = int(compact.histories.offsets[-1])
    assert compact._interest_cache.values.dtype == torch.int8
    assert compact._interest_cache.nbytes == rows * 4
    assert dense._interest_cache.values.dtype == torch.float16
    assert dense._interest_cache.nbytes == rows * dense.sememe_table.q * 2
    assert dense._interest_cache.readout is None


def test_compact_cache_gives_the_dense_interests_prompts_and_scores(data, both):
    compact, dense = both
    # the same weights: the two models differ in the cache's form only
    assert all(
        torch.equal(a, b)
        for a, b in zip(compact.state_dict().values(), dense.state_dict().values(), strict=True)
    )
    feat = split_rows(data, "test")[0]
    with torch.no_grad():
        # int8 codes: each within 1/254 of the activation, float16 vectors: 2^-11 relative
        torch.testing.assert_close(compact.interest(feat), dense.interest(feat), atol=0.01, rtol=0)
        torch.testing.assert_close(compact.prompts(feat), dense.prompts(feat), atol=0.01, rtol=0)
        torch.testing.assert_close(
            compact.full_sort_predict(feat), dense.full_sort_predict(feat), atol=0.01, rtol=0
        )


def test_compact_codes_are_the_rounded_reverse_pass(both):
    compact, _ = both
    rows = torch.arange(int(compact.histories.offsets[-1]))
    codes = compact.generalise(compact.prefix_vectors(rows), codes=True)
    expected = (codes * CODE_SCALE).round().clamp(-CODE_SCALE, CODE_SCALE).to(torch.int8)
    assert (compact._interest_cache.values.int() - expected.int()).abs().max() <= 1


def test_training_reaches_the_prompt_generators_not_s2idm(synthetic, data):
    model = ready(synthetic, data, "compact").train()
    model.calculate_loss(split_rows(data, "train")[0]).backward()
    assert model.prompt_encoder.first.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.s2idm.parameters())


def test_s2idm_only_ablation_reads_the_compact_cache(synthetic, data):
    compact = ready(synthetic, data, "compact", "SeeDRecSASRecS2IDMOnly")
    dense = ready(synthetic, data, "dense", "SeeDRecSASRecS2IDMOnly")
    assert compact._interest_cache.readout is not None
    feat = split_rows(data, "test")[0]
    with torch.no_grad():
        torch.testing.assert_close(
            compact.full_sort_predict(feat), dense.full_sort_predict(feat), atol=0.01, rtol=0
        )


def test_build_limit_fills_the_first_rows_only(both):
    compact, _ = both
    cache = compact._interest_cache
    limited = InterestCache.build(
        compact.histories, compact.sememe_table, compact.sememe_args,
        lambda raw: compact.generalise(raw, codes=True), code_scale=cache.code_scale, limit=10,
    )  # fmt: skip
    assert limited.shape == cache.values.shape
    assert torch.equal(limited[:10], cache.values[:10])
    assert not limited[10:].any()


def test_cache_built_in_bfloat16_stays_within_a_few_int8_steps(synthetic, data, both):
    compact, _ = both
    low = ready(synthetic, data, "compact", interest_cache_dtype="bfloat16")
    difference = (low._interest_cache.values.int() - compact._interest_cache.values.int()).abs()
    assert 0 < difference.max() <= 4  # computed otherwise, and 4/127 at most apart


def test_unknown_cache_form_is_one_clear_error(synthetic):
    with pytest.raises(
        ConfigError, match="--interest_cache: 'sparse' is not one of compact, dense"
    ):
        make_config("SeeDRecSASRec", synthetic["root"], NAME, interest_cache="sparse")
    with pytest.raises(ConfigError, match="--interest_cache_dtype: 'half' is not one of float32"):
        make_config("SeeDRecSASRec", synthetic["root"], NAME, interest_cache_dtype="half")


def test_principal_projection_is_exact_on_data_of_that_rank_and_folds_into_the_readout():
    torch.manual_seed(0)
    sample = torch.randn(200, 3) @ torch.randn(3, 10) + torch.randn(10)  # rank 3 around a mean
    projection = PrincipalProjection.fit(sample, 3)
    readout = torch.nn.Linear(10, 7)
    coordinates = projection(sample)
    assert coordinates.shape == (200, 3)
    folded = projection.readout_after(readout)
    assert not folded.weight.requires_grad
    torch.testing.assert_close(folded(coordinates), readout(sample), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(projection.readout_after()(coordinates), sample, atol=1e-4, rtol=0)
    variances = coordinates.var(dim=0)
    assert bool((variances[:-1] >= variances[1:]).all())  # largest component first
    with pytest.raises(ValueError, match=r"rank must be in \[1, 9\]"):
        PrincipalProjection.fit(sample, 10)


def test_ranked_cache_keeps_float16_components_and_reads_the_projected_codes(synthetic, data, both):
    compact, _ = both
    synced = []
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, interest_cache_rank=2, **SMALL_S2IDM
    )
    ranked = build_model(config, data)
    ranked.load_state_dict(compact.state_dict())  # the same S2IDM and prompt generators
    ranked.freeze_s2idm()
    cache = ranked.build_interest_cache(sync=synced.append)
    ranked.eval()
    rows = int(ranked.histories.offsets[-1])
    assert cache.values.dtype == torch.float16 and cache.nbytes == rows * 2 * 2
    assert cache.describe() == "principal components (float16)" and cache.code_scale is None
    (projection,) = synced
    all_rows = torch.arange(rows)
    codes = ranked.generalise(ranked.prefix_vectors(all_rows), codes=True)
    kept = projection.mean + projection(codes) @ projection.components.T
    expected = ranked.s2idm.denoiser.readout(kept)
    torch.testing.assert_close(cache.vectors(all_rows, "cpu"), expected, atol=2e-3, rtol=2e-3)
    again = ranked.build_interest_cache()  # the same sample: the same components
    assert torch.equal(again.values, cache.values)
    feat = split_rows(data, "test")[0]
    with torch.no_grad():
        assert ranked.full_sort_predict(feat).isfinite().all()
    ranked.train().calculate_loss(split_rows(data, "train")[0]).backward()
    assert ranked.prompt_encoder.first.weight.grad.abs().sum() > 0


def test_ranked_cache_of_raw_vectors_for_the_ipe_only_ablation(synthetic, data):
    config = make_config("SeeDRecSASRecIPEOnly", synthetic["root"], NAME, interest_cache_rank=5)
    model = build_model(config, data)
    cache = model.build_interest_cache()
    assert cache.values.shape[1] == 5 and cache.readout.in_features == 5
    assert cache.readout.out_features == model.sememe_table.q


def test_cache_rank_not_below_the_rows_width_is_one_clear_error(synthetic, data):
    config = make_config(
        "SeeDRecSASRec", synthetic["root"], NAME, interest_cache_rank=4, **SMALL_S2IDM
    )
    with pytest.raises(
        ConfigError, match="--interest_cache_rank 4: the cache's rows are only 4 wide"
    ):
        build_model(config, data)
    with pytest.raises(ConfigError, match="--interest_cache_rank: -1 is not a whole number >= 0"):
        make_config("SeeDRecSASRec", synthetic["root"], NAME, interest_cache_rank=-1)


def test_raw_vectors_in_small_blocks_are_the_vectors_of_one_pass(synthetic, data, both):
    compact, _ = both
    histories, table = compact.histories, compact.sememe_table
    total = int(histories.offsets[-1])
    whole = prefix_sememe_vectors(histories, table, 0, total, **compact.sememe_args)
    for numbers in (table.q, 5 * table.q, 2**18):  # one row a block, a few rows, all rows
        blocks = [
            prefix_sememe_vectors(histories, table, lo, hi, **compact.sememe_args)
            for lo, hi in user_chunks(histories, block_rows(table, numbers))
        ]
        assert torch.equal(torch.cat(blocks), whole)
    inside = int(histories.offsets[2]) + 1  # ends inside the third user
    start = int(histories.offsets[1])
    blocked = prefix_vectors_in_blocks(histories, table, start, inside, **compact.sememe_args)
    assert torch.equal(blocked, whole[start:inside].to(torch.float16))
