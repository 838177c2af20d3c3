r"""Train and evaluate a model, like RecBole's run_recbole.py.

    python run_recbole_seedrec.py --model SASRec --dataset ml-100k \
        --config_files a.yaml b.yaml --epochs=5
"""

from recbole_seedrec.cli.main import main

if __name__ == "__main__":
    main()
