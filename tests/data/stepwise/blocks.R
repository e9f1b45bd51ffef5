# Reference for METHOD blocks (tests/test_stepwise_blocks.py): SPSS LOGISTIC REGRESSION with
# /METHOD=ENTER, FSTEP and BSTEP blocks run by hand in R, independent of hmip.
# Run from the repository root: Rscript tests/data/stepwise/blocks.R
# (tests never call R; the printed numbers are pasted into the test beside this call).
#
# Fits: glm(binomial), continued to exact stationarity (fstep.R's ctl then ctl_exact).
# Entry: our own score statistic U'S^-1U at the converged fit (score_stat in fstep.R; not
# add1(test = "Rao"), whose weights lag one IRLS iteration). Removal: LR (refit without the
# term) or Wald b'V^-1b. A block: ENTER puts its terms in together (statistic: their joint
# score at the previous model); BSTEP does that, then removal and entry as FSTEP; FSTEP
# enters the smallest p < PIN, then removes the largest p > POUT, repeated. Only the block's
# own terms enter or leave; a block stops when nothing qualifies or the next model repeats
# one already visited in the block. Omnibus: step = vs the previous step, block = vs the
# block's starting model, model = vs the constant only.
source("tests/data/cross_check/fstep.R")
library(MASS)
f <- function(x) sprintf("%.12g", x)

run_blocks <- function(label, d, y, blocks, pin = 0.05, pout = 0.10, removal = "lr") {
  cands <- unlist(lapply(blocks, function(b) b$terms))
  d <- d[complete.cases(d[, c(y, cands)]), , drop = FALSE]
  ordered <- function(m) cands[cands %in% m]
  fitm <- function(m) {
    fml <- reformulate(if (length(m)) ordered(m) else "1", y)
    g <- suppressWarnings(glm(fml, binomial, d, control = ctl))
    suppressWarnings(glm(fml, binomial, d, control = ctl_exact, start = coef(g)))
  }
  llf <- function(fit) as.numeric(logLik(fit))
  dcols <- function(t) design_cols(d, t)
  ndf <- function(ts) vapply(ts, function(t) ncol(dcols(t)), 1)
  rstat <- function(fit, cur, t) {
    if (removal == "lr") return(2 * (llf(fit) - llf(fitm(setdiff(cur, t)))))
    asg <- attr(model.matrix(fit), "assign"); j <- match(t, ordered(cur)); k <- which(asg == j)
    b <- coef(fit)[k]; as.numeric(t(b) %*% solve(vcov(fit)[k, k, drop = FALSE]) %*% b)
  }
  cur <- character(0); fit <- fitm(cur); ll0 <- llf(fit); k <- 0
  record <- function(b, action, term, st, df, prev_ll, start_ll) {
    k <<- k + 1; ll <- llf(fit)
    cat(label, "step", k, "block", b, action, paste0("[", term, "]"), "stat", f(st), "df", df,
        "omnibus", f(2 * (ll - prev_ll)), f(2 * (ll - start_ll)), f(2 * (ll - ll0)), "\n")
  }
  for (b in seq_along(blocks)) {
    meth <- blocks[[b]]$method; elig <- blocks[[b]]$terms
    start_ll <- llf(fit); visited <- list(cur)
    seen <- function(m) any(vapply(visited, function(v) setequal(v, m), TRUE))
    removal_first <- FALSE
    if (meth %in% c("enter", "bstep")) {
      X <- do.call(cbind, lapply(elig, dcols)); st <- score_stat(fit, X); prev <- llf(fit)
      cur <- c(cur, elig); fit <- fitm(cur); visited[[length(visited) + 1]] <- cur
      record(b, "enter", paste(ordered(elig), collapse = ", "), st, ncol(X), prev, start_ll)
      if (meth == "enter") next
      removal_first <- TRUE
    }
    done <- FALSE
    repeat {
      if (!removal_first) {
        rest <- setdiff(ordered(elig), cur)
        if (!length(rest)) break
        st <- vapply(rest, function(t) score_stat(fit, dcols(t)), 1); df <- ndf(rest)
        p <- pchisq(st, df, lower.tail = FALSE); best <- rest[which.min(p)]
        if (p[best] >= pin) break
        if (seen(c(cur, best))) break
        prev <- llf(fit); cur <- c(cur, best); fit <- fitm(cur); visited[[length(visited) + 1]] <- cur
        record(b, "enter", best, st[best], df[best], prev, start_ll)
      }
      removal_first <- FALSE
      repeat {
        inb <- intersect(ordered(cur), elig)
        if (!length(inb)) break
        rs <- vapply(inb, function(t) rstat(fit, cur, t), 1); rdf <- ndf(inb)
        rp <- pchisq(rs, rdf, lower.tail = FALSE); worst <- inb[which.max(rp)]
        if (rp[worst] <= pout) break
        nxt <- setdiff(cur, worst)
        if (seen(nxt)) { done <- TRUE; break }
        prev <- llf(fit); cur <- nxt; fit <- fitm(cur); visited[[length(visited) + 1]] <- cur
        record(b, "remove", worst, rs[worst], rdf[worst], prev, start_ll)
      }
      if (done) break
    }
  }
  cf <- summary(fit)$coefficients
  cat(label, "final", paste(ordered(cur), collapse = ","), "m2ll", f(-2 * llf(fit)), "\n")
  cat(label, "B", paste(f(cf[, 1]), collapse = ", "), "\n")
  cat(label, "SE", paste(f(cf[, 2]), collapse = ", "), "\n")
}

bw <- read.csv("tests/data/stepwise/birthwt.csv")
bw$race <- factor(bw$race); contrasts(bw$race) <- contr.treatment(3, base = 3)  # SPSS: last
run_blocks("birthwt", bw, "low", list(list(method = "enter", terms = c("age", "lwt")),
  list(method = "fstep", terms = c("race", "smoke", "ptd", "ht", "ui"))))
pima <- read.csv("tests/data/stepwise/pima_tr.csv"); pima$type <- as.integer(pima$type == "Yes")
run_blocks("pima_bstep", pima, "type", list(list(method = "bstep",
  terms = c("npreg", "glu", "bp", "skin", "bmi", "ped", "age"))))
inf <- read.csv("tests/data/stepwise/infert.csv")
inf$education <- factor(inf$education, levels = c("0-5yrs", "6-11yrs", "12+ yrs"))
contrasts(inf$education) <- contr.treatment(3, base = 3)
run_blocks("infert_wald", inf, "case", list(list(method = "enter", terms = c("age")),
  list(method = "bstep", terms = c("education", "parity", "induced", "spontaneous"))),
  removal = "wald")
run_blocks("infert_enter", inf, "case", list(list(method = "enter",
  terms = c("education", "age", "parity", "induced", "spontaneous"))))
run_blocks("pima_3blocks", pima, "type", list(list(method = "fstep", terms = c("glu", "bp")),
  list(method = "enter", terms = c("skin")),
  list(method = "fstep", terms = c("npreg", "bmi", "ped", "age"))))
