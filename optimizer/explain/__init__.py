"""Why a plan is what it is: reasons per account, counterfactuals, projected impact, and the
moves scheduled in weekly waves."""
