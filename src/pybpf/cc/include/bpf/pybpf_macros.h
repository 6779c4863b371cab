/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pybpf: preprocessor machinery shared by pybpf's BPF headers: counting variadic
 * arguments (0..12) and dispatching to a macro by that count.
 */
#ifndef __PYBPF_MACROS_H
#define __PYBPF_MACROS_H

/* the 14th argument: with ___pb_narg's descending list, the number of arguments given */
#define ___pb_14th(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
/* number of arguments, 0 to 12 (GNU ", ##" drops the comma when there are none) */
#define ___pb_narg(...) ___pb_14th(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)

#define ___pb_cat_(a, b) a##b
#define ___pb_cat(a, b) ___pb_cat_(a, b)
/* ___pb_dispatch(foo_, x, y) expands to foo_2(x, y) */
#define ___pb_dispatch(prefix, ...) ___pb_cat(prefix, ___pb_narg(__VA_ARGS__))(__VA_ARGS__)

/* a -> b -> c chains: ___pb_arrow(s, a, b) is s->a->b (up to 11 fields) */
#define ___pb_arrow_1(s) s
#define ___pb_arrow_2(s, a) s->a
#define ___pb_arrow_3(s, a, b) s->a->b
#define ___pb_arrow_4(s, a, b, c) s->a->b->c
#define ___pb_arrow_5(s, a, b, c, d) s->a->b->c->d
#define ___pb_arrow_6(s, a, b, c, d, e) s->a->b->c->d->e
#define ___pb_arrow_7(s, a, b, c, d, e, f) s->a->b->c->d->e->f
#define ___pb_arrow_8(s, a, b, c, d, e, f, g) s->a->b->c->d->e->f->g
#define ___pb_arrow_9(s, a, b, c, d, e, f, g, h) s->a->b->c->d->e->f->g->h
#define ___pb_arrow_10(s, a, b, c, d, e, f, g, h, i) s->a->b->c->d->e->f->g->h->i
#define ___pb_arrow(...) ___pb_dispatch(___pb_arrow_, __VA_ARGS__)

#endif /* __PYBPF_MACROS_H */
