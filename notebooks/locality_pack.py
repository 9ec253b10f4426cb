# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] tags=["remove-cell"]
# # Locality pack
#
# Run by `bsol packs`, or on its own with papermill:
# `papermill notebooks/locality_pack.ipynb out.ipynb -p locality Solihull`
# `-p reporting_date 2025-03-31` (add `-p data_dir FOLDER` or `-p tables_dir FOLDER`).
# The notebook only loads, calls and shows; the logic is in `bsol_analytics.report`
# (tables from `bsol_analytics.packs`).

# %% tags=["parameters"]
locality = "BSOL"  # Central, East, North, South, West, Solihull or BSOL
reporting_date = "2025-03-31"  # YYYY-MM-DD, a quarter end
tables_dir = None  # pack tables written by `bsol packs` (None: compute them from data_dir)
data_dir = None  # extract or prepared folder used when tables_dir is None (default data/processed)
view = "practice"  # "practice" or "resident"
imd = "2025"  # "2025" or "2019"
engine = "pandas"  # indicator engine when computing: "pandas", "duckdb" or "spark"
source = None  # the data source printed for a real extract (None: the extract's own)

# %%
import warnings

from bsol_analytics import report
from bsol_analytics.packs import open_pack
from bsol_analytics.report.html import key_messages_html
from bsol_analytics.report.messages import key_messages

warnings.filterwarnings("ignore")
locality, reporting_date = report.validate_parameters(
    locality, reporting_date, view, imd, data_dir=data_dir, tables_dir=tables_dir
)

# %%
data = open_pack(tables_dir, data_dir, reporting_date, view, imd, engine)
report.show(report.provenance_banner(data.info, source))
report.show(report.title_html(data, locality))
if locality == report.BSOL or len(data.info["localities_covered"]) < len(report.LOCALITIES):
    report.show(report.coverage_sentence(data.info["localities_covered"]))
report.show(key_messages_html(key_messages(data, locality)))

# %%
report.show(report.glance_section(data, locality))

# %%
report.show(report.population_section(data, locality))

# %%
for family in report.FAMILIES:
    report.show(report.family_section(data, locality, family))

# %%
report.show(report.definitions_section(data, locality))
