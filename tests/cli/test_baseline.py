"""hp-baseline's refusals: one line, exit 3, no bundle left behind."""

import os

import pytest

from helpers import EXAMPLES, run

HEADER_ONLY = "protocol,compounds,input_fields,iterations,num_pending,hour,day,label\n"


@pytest.mark.parametrize("empty", ["--train-data", "--benchmark-data"])
def test_a_table_of_a_header_alone_is_refused(empty, tmp_path):
    blank = tmp_path / "header.csv"
    blank.write_text(HEADER_ONLY)
    tables = {"--train-data": EXAMPLES + "/hpc_jobs_1000.csv", "--benchmark-data": EXAMPLES + "/hpc_jobs_700.parquet"}
    tables[empty] = str(blank)
    output = tmp_path / "bundle"
    result = run("hp-baseline", "--train-data", tables["--train-data"], "--benchmark-data",
                 tables["--benchmark-data"], "--output", str(output))
    assert result.code == 3 and result.stdout == ""
    assert result.err_lines == ["hp-baseline: error: %s has no rows; give a table with data rows" % blank]
    assert not os.path.exists(str(output))
