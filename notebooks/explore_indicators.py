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

# %% [markdown]
# # Exploring the indicators in JupyterLab
#
# A short tour for analysts: load the pack tables that `bsol packs` computes (or a small
# demonstration set), pick an indicator, and draw the same accessible charts as the packs.
# Everything here is a library call, so the numbers match the published packs.
#
# Set `tables_dir` to the `tables` folder of a run, or to `None` for demonstration tables:
# the real pipeline run on a small synthetic extract (every patient invented; no extract
# needed).

# %%
import pandas as pd

from bsol_analytics import plots, report
from bsol_analytics.packs.demo import demo_tables

tables_dir = None  # e.g. a folder written by bsol_analytics.packs.compute_tables
if tables_dir is None:
    tables_dir = demo_tables()  # the real pipeline on a small synthetic extract, made once
data = report.load_pack(tables_dir)
data.meta[["indicator_id", "title", "family", "polarity"]]

# %% [markdown]
# ## Every indicator for one locality, against BSOL
#
# `at_a_glance` returns a tidy frame: value, confidence interval, comparators, the
# comparison (better / similar / worse, or higher / lower where no judgement applies) and
# the trend over the quarters in the tables.

# %%
glance = report.at_a_glance(data, "East")
glance[["title", "value", "lower", "upper", "BSOL", "comparison", "trend"]].round(1)

# %%
fig, alt = plots.spine_chart(glance, "East")
print(alt)

# %% [markdown]
# ## One indicator by deprivation, with the slope index of inequality

# %%
rows = report.breakdown_rows(data, "East", "HYP_PREV", "imd_quintile")
fig, alt = plots.bar_ci(rows, "Hypertension prevalence by IMD quintile", "Percent")
sii = data.sii.query("indicator_id == 'HYP_PREV' and area == 'East'")
print(
    report.sii_sentence(
        "Hypertension prevalence", "East", sii.iloc[0] if len(sii) else None, "percentage points"
    )
)
report.stat_table(rows, "IMD quintile")

# %% [markdown]
# ## All six localities side by side

# %%
side = report.areas_side_by_side(data, "SCR_BOWEL")
fig, alt = plots.bar_ci(side, "Bowel screening coverage by locality", "Percent")
pd.DataFrame(
    {"area": side["group"], "value": side["value"].round(1), "comparison": side["comparison"]}
)

# %% [markdown]
# ## Recorded versus expected prevalence, and age standardisation
#
# `<ID>_RVE` is the register count divided by the count expected from the population's
# age and sex mix (1 = as many as expected); `<ID>_DSR` is the age-standardised rate
# (ESP 2013, per 100), which compares localities with different age mixes fairly.

# %%
rve = report.areas_side_by_side(data, "HYP_PREV_RVE")
fig, alt = plots.ratio_chart(rve, "East", "Hypertension: recorded vs expected prevalence")
east = rve[rve["group"] == "East"].iloc[0]
print(report.rve_headline(east, "East", "hypertension"))
report.stat_table(rve, "Area", decimals=2)

# %%
crude = report.areas_side_by_side(data, "HYP_PREV")
std = report.areas_side_by_side(data, "HYP_PREV_DSR")
pd.DataFrame(
    {
        "area": crude["group"],
        "crude": crude["value"].round(1),
        "age_standardised": std["value"].round(1),
    }
)
