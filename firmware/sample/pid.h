/* PID controller in Q16.16 with integrator clamping (anti-windup). */
#ifndef SAMPLE_PID_H
#define SAMPLE_PID_H

#include "fixmath.h"

typedef struct {
    fix16_t kp, ki, kd;
    fix16_t out_min, out_max;
    fix16_t integral;
    fix16_t prev_measured;
    fix16_t last_output;
    fix16_t p_term, i_term, d_term;
    uint8_t primed;
} pid_ctrl_t;

void pid_init(pid_ctrl_t *pid, fix16_t kp, fix16_t ki, fix16_t kd, fix16_t out_min,
              fix16_t out_max);
void pid_set_gains(pid_ctrl_t *pid, fix16_t kp, fix16_t ki, fix16_t kd);
void pid_reset(pid_ctrl_t *pid);
fix16_t pid_update(pid_ctrl_t *pid, fix16_t setpoint, fix16_t measured, fix16_t dt_s);

#endif
