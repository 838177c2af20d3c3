r"""Search hyperparameters with Ray Tune, like RecBole's run_hyper.py (selection on validation).

    python run_hyper_seedrec.py --model SASRec --dataset ml-100k \
        --params_file hyper.test --num_samples 8
"""

from recbole_seedrec.cli.tune import main

if __name__ == "__main__":
    main()
