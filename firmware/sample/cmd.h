/* Console command shell. */
#ifndef SAMPLE_CMD_H
#define SAMPLE_CMD_H

#define CMD_LINE_MAX 80
#define CMD_ARGS_MAX 10

#define CMD_OK 0
#define CMD_USAGE -1
#define CMD_FAILED -2

void cmd_init(void);
void cmd_prompt(void);
void cmd_input_char(char c);
int cmd_execute(char *line); /* modifies line; returns the handler's result */
unsigned cmd_count(void);

#endif
