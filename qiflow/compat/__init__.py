"""Other frameworks' front doors onto qiflow: ``qiflow.compat.theano`` lays out
Theano's modules as re-exports of ``qiflow.sym``."""
