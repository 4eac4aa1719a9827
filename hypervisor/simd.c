/* SPDX-License-Identifier: BSD-3-Clause */ /* placeholder until written */
int main(void) { return 1; }
