from ..rnn import RNNBase, RNN, LSTM, GRU  # noqa: F401
from ..rnn_cell import RNNCellBase, RNNCell, LSTMCell, GRUCell  # noqa: F401
