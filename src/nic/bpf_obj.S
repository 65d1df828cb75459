/*
 * bpf_obj.S - the BPF object built from bpf/unetmap.bpf.c, embedded in the
 * library as read-only data [unm_bpf_obj_start, unm_bpf_obj_end) that
 * kobj.c hands to bpf_object__open_mem().  The Makefile passes the path of
 * the object of this build directory as UNM_BPF_OBJ.
 */
	.section .rodata.unm_bpf, "a", @progbits
	.balign 16
	.globl unm_bpf_obj_start
	.hidden unm_bpf_obj_start
	.type unm_bpf_obj_start, @object
unm_bpf_obj_start:
	.incbin UNM_BPF_OBJ
	.globl unm_bpf_obj_end
	.hidden unm_bpf_obj_end
	.type unm_bpf_obj_end, @object
unm_bpf_obj_end:
	.byte 0
	.section .note.GNU-stack, "", @progbits
