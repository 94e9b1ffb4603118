"""The behaviour watch state in the store: JSON state and Arrow parts, on both databases."""

import pyarrow as pa

from trustshield.store import AlertStore
from trustshield.store.behaviour_watch import BehaviourWatchState


def _part(n: int, tag: str):
    rows = pa.table(
        {"host": [f"{tag}{i}" for i in range(n)], "score": [float(i) for i in range(n)]}
    )
    flows = pa.table({"uid": [f"{tag}-u{i}" for i in range(2 * n)], "flow_row": list(range(n)) * 2})
    return rows, flows


def test_parts_append_in_order_and_a_replace_keeps_only_the_new_ones(store_target):
    with AlertStore(store_target) as store:
        state = BehaviourWatchState(store)
        assert state.load("s") == (None, [])
        state.save("s", {"next_w": 3}, [_part(2, "a")], replace=False)
        state.save("s", {"next_w": 5}, [_part(3, "b"), _part(1, "c")], replace=False)
        got, parts = state.load("s")
        assert got == {"next_w": 5}
        assert [p[0].column("host").to_pylist()[0] for p in parts] == ["a0", "b0", "c0"]
        assert parts[1][1].equals(_part(3, "b")[1])
        state.save("s", {"next_w": 9}, [_part(1, "d")], replace=True)
        got, parts = state.load("s")
        assert got == {"next_w": 9} and len(parts) == 1
        assert state.load("other") == (None, [])


def test_a_failed_transaction_leaves_the_state_as_it_was(store_target):
    with AlertStore(store_target) as store:
        state = BehaviourWatchState(store)
        state.save("s", {"next_w": 1}, [_part(1, "a")], replace=False)
        try:
            with store.transaction():
                state.save("s", {"next_w": 2}, [_part(1, "b")], replace=True)
                raise RuntimeError("crash before the commit")
        except RuntimeError:
            pass
        got, parts = state.load("s")
        assert got == {"next_w": 1} and parts[0][0].column("host").to_pylist() == ["a0"]
