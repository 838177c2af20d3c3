"""The offline converter: raw tables or Amazon dumps -> RecBole atomic files with sememe fields,
and the WordNet set-up its word sememes use. Run before training, once per data set
(``recbole-seedrec prepare``, ``recbole-seedrec wordnet``); nothing here is imported at run time.
"""
