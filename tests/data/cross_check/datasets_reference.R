# Cross-check of `hmip regress --input FILE` against R on public data sets shipped with R
# that the engine's own tests do not use (tests/data/stepwise has birthwt, biopsy,
# infert, mtcars, Pima.tr, remission, strong). Run from the repo root:
#   Rscript tests/data/cross_check/datasets_reference.R
# Writes the data files the CLI reads (titanic.csv, aids2.csv, esoph.csv) and
# datasets_stepwise_r.csv (fstep.R's key/values) for tests/test_cross_check_datasets.py.
here <- "tests/data/cross_check"
source(file.path(here, "fstep.R"))
library(MASS)
# hmip's level order for text columns is code-point order (= R's radix sort), reference last
fac <- function(x) { lv <- sort(unique(as.character(x)), method = "radix")
  f <- factor(as.character(x), levels = lv); contrasts(f) <- contr.treatment(lv, base = length(lv)); f }
out <- list()
run <- function(name, d, y, cands, pin = 0.05, pout = 0.10, removal = "lr") {
  kv <- fstep_kv(d, y, cands, pin = pin, pout = pout, removal = removal)
  out[[length(out) + 1]] <<- data.frame(model = name, removal = removal, kv)
}

# datasets::Titanic expanded to one row per person (2,201): Survived ~ Class + Sex + Age,
# all categorical (hmip's collapsed path; Class has 4 levels, reference Crew)
tt <- as.data.frame(Titanic)
tt <- tt[rep(seq_len(nrow(tt)), tt$Freq), c("Class", "Sex", "Age", "Survived")]
write.csv(tt, file.path(here, "titanic.csv"), row.names = FALSE, quote = FALSE)
ti <- read.csv(file.path(here, "titanic.csv"))
ti$y <- as.integer(ti$Survived == "Yes")
for (v in c("Class", "Sex", "Age")) ti[[v]] <- fac(ti[[v]])
run("titanic", ti, "y", c("Class", "Sex", "Age"))
run("titanic", ti, "y", c("Class", "Sex", "Age"), removal = "wald")

# MASS::Aids2 (2,843): status D vs A ~ state + sex + diag + T.categ (8 levels) + age;
# numeric diag and age (row-level path). Written with NA-free columns as they are.
a2 <- Aids2[, c("state", "sex", "diag", "T.categ", "age", "status")]
write.csv(a2, file.path(here, "aids2.csv"), row.names = FALSE, quote = FALSE)
ai <- read.csv(file.path(here, "aids2.csv"))
ai$y <- as.integer(ai$status == "D")
for (v in c("state", "sex", "T.categ")) ai[[v]] <- fac(ai[[v]])
run("aids2", ai, "y", c("state", "sex", "diag", "T.categ", "age"))
# PIN .3 POUT .35: sex enters at step 3 and leaves at step 6 once T.categ is in
run("aids2_pin.3", ai, "y", c("state", "sex", "diag", "T.categ", "age"), pin = 0.3, pout = 0.35)
run("aids2_pin.3", ai, "y", c("state", "sex", "diag", "T.categ", "age"), pin = 0.3, pout = 0.35, removal = "wald")

# datasets::esoph expanded to cases and controls (1,175): case ~ agegp (6) + alcgp (4) + tobgp (4)
es <- esoph[rep(seq_len(nrow(esoph)), 1), ]
ex <- do.call(rbind, lapply(seq_len(nrow(es)), function(i) {
  r <- es[i, ]; k <- r$ncases + r$ncontrols
  data.frame(agegp = rep(as.character(r$agegp), k), alcgp = rep(as.character(r$alcgp), k),
             tobgp = rep(as.character(r$tobgp), k), case = c(rep(1L, r$ncases), rep(0L, r$ncontrols)))
}))
write.csv(ex, file.path(here, "esoph.csv"), row.names = FALSE, quote = FALSE)
eo <- read.csv(file.path(here, "esoph.csv"))
for (v in c("agegp", "alcgp", "tobgp")) eo[[v]] <- fac(eo[[v]])
run("esoph", eo, "case", c("agegp", "alcgp", "tobgp"))

write.csv(do.call(rbind, out), file.path(here, "datasets_stepwise_r.csv"), row.names = FALSE)
